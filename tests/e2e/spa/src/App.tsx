import { useEffect, useState } from "react";
import type { User, UserManager } from "oidc-client-ts";
import { CALLBACK_PATH, SIGNED_OUT_PATH, jwtClaims, userManager } from "./auth";
import { type AppConfig, loadConfig } from "./config";

interface Session {
  config: AppConfig;
  manager: UserManager;
  user: User | null;
  signedOut: boolean;
}

/** Starts once per page load (React may run effects twice in development). */
let starting: Promise<Session> | null = null;

async function start(): Promise<Session> {
  const config = await loadConfig();
  const manager = userManager(config);
  const path = window.location.pathname;
  let user: User | null = null;
  let signedOut = false;
  if (path === CALLBACK_PATH) {
    user = await manager.signinRedirectCallback();
    window.history.replaceState({}, "", "/");
  } else if (path === SIGNED_OUT_PATH) {
    await manager.signoutRedirectCallback();
    window.history.replaceState({}, "", "/");
    signedOut = true;
  }
  return { config, manager, user, signedOut };
}

type ApiResult = { call: number; status: number; body: string } | null;

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [user, setUser] = useState<User | null>(null);
  const [renewals, setRenewals] = useState(0);
  const [api, setApi] = useState<ApiResult>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    starting ??= start();
    starting
      .then((s) => {
        setSession(s);
        setUser(s.user);
        // Automatic renewals (before expiry) land here too.
        s.manager.events.addUserLoaded((u) => setUser(u));
      })
      .catch((e: unknown) => setError(String(e)));
  }, []);

  if (error) return <p id="error" role="alert">{error}</p>;
  if (!session) return <p>Loading…</p>;
  const { config, manager } = session;

  const run = (f: () => Promise<void>) => () => {
    setError(null);
    f().catch((e: unknown) => setError(String(e)));
  };

  if (!user) {
    return (
      <main>
        <h1>Reports</h1>
        {session.signedOut && <p id="signed-out">You are signed out.</p>}
        <button id="signin" onClick={run(() => manager.signinRedirect())}>
          Sign in
        </button>
      </main>
    );
  }

  const roles = Array.isArray(user.profile.roles) ? (user.profile.roles as string[]) : [];
  const jti = String(jwtClaims(user.access_token).jti ?? "");
  const callApi = async () => {
    const res = await fetch(`${config.apiUrl}/summary`, { headers: { Authorization: `Bearer ${user.access_token}` } });
    const body = await res.text();
    setApi((prev) => ({ call: (prev?.call ?? 0) + 1, status: res.status, body }));
  };
  const renew = async () => {
    const renewed = await manager.signinSilent();
    if (renewed) setUser(renewed);
    setRenewals((n) => n + 1);
  };

  return (
    <main>
      <h1>Reports</h1>
      <p>
        Signed in as <strong id="name">{user.profile.preferred_username ?? user.profile.sub}</strong>
      </p>
      <p>
        Roles: <span id="roles">{roles.length ? roles.join(", ") : "none"}</span>
      </p>
      <p>
        Access token <code id="token-id">{jti}</code>, renewed <span id="renewals">{renewals}</span> times
      </p>
      <button id="call-api" onClick={run(callApi)}>
        Call the reports API
      </button>
      <button id="renew" onClick={run(renew)}>
        Renew tokens
      </button>
      <button id="signout" onClick={run(() => manager.signoutRedirect())}>
        Sign out
      </button>
      {api && (
        <p id="api-result">
          Call <span id="api-call">{api.call}</span>: <span id="api-status">{api.status}</span> {api.status === 403 ? "Forbidden: you lack the reports-viewer role" : api.body}
        </p>
      )}
    </main>
  );
}
