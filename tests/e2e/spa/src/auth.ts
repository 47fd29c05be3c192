import { InMemoryWebStorage, UserManager, WebStorageStateStore } from "oidc-client-ts";
import type { AppConfig } from "./config";

/** Paths Gatehouse sends the browser back to; both are registered for the client. */
export const CALLBACK_PATH = "/callback";
export const SIGNED_OUT_PATH = "/signed-out";

/**
 * Authorization Code + PKCE with a public client. Tokens live in memory only (a reload signs
 * in again, silently if the Gatehouse session is still alive); only the short-lived PKCE
 * verifier and state wait in sessionStorage across the redirect. Renewal uses the rotating
 * refresh token (`offline_access`), never a hidden iframe.
 */
export function userManager(config: AppConfig): UserManager {
  const origin = window.location.origin;
  return new UserManager({
    authority: config.issuer,
    client_id: config.clientId,
    redirect_uri: origin + CALLBACK_PATH,
    post_logout_redirect_uri: origin + SIGNED_OUT_PATH,
    response_type: "code",
    scope: config.scope,
    userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
    automaticSilentRenew: true,
    loadUserInfo: false,
  });
}

/** The claims of a JWT's payload, for display only: the API validates the token. */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(json) as Record<string, unknown>;
}
