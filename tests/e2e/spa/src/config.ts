/** Where the app finds Gatehouse and the API: `/config.json`, served next to the app. */
export interface AppConfig {
  /** The tenant's issuer, e.g. https://localhost:8443/tenants/demo. */
  issuer: string;
  /** The public client registered for this app (no secret: a browser cannot keep one). */
  clientId: string;
  /** The reports API protected by gatehouse-guard. */
  apiUrl: string;
  scope: string;
}

export async function loadConfig(): Promise<AppConfig> {
  const res = await fetch("/config.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  const c = (await res.json()) as Partial<AppConfig>;
  if (!c.issuer || !c.clientId || !c.apiUrl || !c.scope) throw new Error("config.json lacks issuer, clientId, apiUrl or scope");
  return c as AppConfig;
}
