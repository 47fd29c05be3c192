//! The pages and the data each shows. Every page has a title and the frame around it.

use askama::Template;

/// What every page shows around its content.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    /// `/tenants/{signed-in tenant}/console`.
    pub home: String,
    /// `{home}/t/{administered tenant}`.
    pub base: String,
    pub tenant_name: String,
    pub target_name: String,
    pub username: String,
    /// The administrator's level, as a person reads it.
    pub level: &'static str,
    /// Which section is open.
    pub tab: &'static str,
    /// The synchronizer token every form carries (IO3).
    pub csrf: String,
    /// A platform administrator: the tenants section is shown.
    pub platform: bool,
    /// A tenant or platform administrator: clients, keys, policies and the audit log are shown.
    pub admin: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub logout_action: String,
    pub logout_confirm: String,
}

/// An audit record as a row.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub seq: i64,
    pub at: String,
    pub action: String,
    pub actor: String,
    pub target: String,
    pub outcome: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub title: &'static str,
    pub frame: Frame,
    /// Shown as counted, `1000+` past the count's limit.
    pub users: String,
    pub clients: Option<usize>,
    pub roles: usize,
    pub denied_24h: Option<usize>,
    pub alerts: Vec<String>,
    pub events: Vec<EventRow>,
}

#[derive(Debug, Clone)]
pub struct TenantRow {
    pub slug: String,
    pub name: String,
    pub issuer: String,
}

#[derive(Template)]
#[template(path = "tenants.html")]
pub struct TenantsPage {
    pub title: &'static str,
    pub frame: Frame,
    pub tenants: Vec<TenantRow>,
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub username: String,
    pub email: String,
    /// `active`, `invited`, `disabled`, `must change password`.
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "users.html")]
pub struct UsersPage {
    pub title: &'static str,
    pub frame: Frame,
    pub search: String,
    pub users: Vec<UserRow>,
    pub next: Option<String>,
    pub can_create: bool,
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub sid: String,
    pub device: String,
    pub signed_in: String,
    pub methods: String,
    pub last_seen: String,
}

#[derive(Template)]
#[template(path = "user.html")]
pub struct UserPage {
    pub title: &'static str,
    pub frame: Frame,
    pub user: UserRow,
    pub display_name: String,
    /// Space-separated, as the roles field takes them.
    pub roles: String,
    pub factors: Vec<String>,
    /// O8: linked upstream identities, (upstream name, its button text).
    pub identities: Vec<(String, String)>,
    pub sessions: Vec<SessionRow>,
    /// The version the page's changes are made against (the API's ETag).
    pub etag: String,
    pub can_set_roles: bool,
    pub can_update: bool,
    pub can_delete: bool,
}

#[derive(Debug, Clone)]
pub struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub kind: String,
    pub grants: String,
}

#[derive(Template)]
#[template(path = "clients.html")]
pub struct ClientsPage {
    pub title: &'static str,
    pub frame: Frame,
    pub clients: Vec<ClientRow>,
}

/// The registration form's values (kept when the form comes back with an error).
#[derive(Debug, Clone)]
pub struct ClientForm {
    pub name: String,
    pub kind: String,
    pub code: bool,
    pub refresh: bool,
    pub client_credentials: bool,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub web_origins: String,
    pub scope: String,
    pub audiences: String,
    pub access_token_ttl: String,
    pub refresh_token_ttl: String,
    pub signing_alg: String,
    pub backchannel_logout_uri: String,
    pub first_party: bool,
    /// Space-separated roles of a service client.
    pub roles: String,
}

impl Default for ClientForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: "public".into(),
            code: true,
            refresh: false,
            client_credentials: false,
            redirect_uris: String::new(),
            post_logout_redirect_uris: String::new(),
            web_origins: String::new(),
            scope: "openid profile email".into(),
            audiences: String::new(),
            access_token_ttl: "300".into(),
            refresh_token_ttl: "2592000".into(),
            signing_alg: "ES256".into(),
            backchannel_logout_uri: String::new(),
            first_party: false,
            roles: String::new(),
        }
    }
}

/// The registration form, or the form that changes a registered client (with its version).
#[derive(Template)]
#[template(path = "client_new.html")]
pub struct ClientNewPage {
    pub title: &'static str,
    pub frame: Frame,
    pub form: ClientForm,
    /// Where the form posts.
    pub action: String,
    /// A change: the version of the client the form shows.
    pub etag: Option<String>,
    pub submit: &'static str,
}

#[derive(Template)]
#[template(path = "client.html")]
pub struct ClientPage {
    pub title: &'static str,
    pub frame: Frame,
    pub client: ClientRow,
    /// Every other setting, named.
    pub settings: Vec<(&'static str, String)>,
    /// A new secret, shown this once.
    pub secret: Option<String>,
    pub etag: String,
}

#[derive(Template)]
#[template(path = "roles.html")]
pub struct RolesPage {
    pub title: &'static str,
    pub frame: Frame,
    /// (name, members, level)
    pub roles: Vec<(String, i64, &'static str)>,
}

#[derive(Template)]
#[template(path = "keys.html")]
pub struct KeysPage {
    pub title: &'static str,
    pub frame: Frame,
    /// (kid, alg, created, state)
    pub keys: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "policy.html")]
pub struct PolicyPage {
    pub title: &'static str,
    pub frame: Frame,
    pub etag: String,
    pub mfa: &'static str,
    pub mfa_options: Vec<(&'static str, &'static str)>,
    pub passwordless: bool,
    pub recent_auth_minutes: u16,
    pub password_history: u8,
    pub password_max_age_days: u32,
    pub password_reset: bool,
    pub self_registration: bool,
    pub session_idle_minutes: u32,
    pub session_max_hours: u32,
    pub lockout_threshold: u8,
    pub lockout_minutes: u32,
}

/// The audit page's filter, as the form shows it.
#[derive(Debug, Clone, Default)]
pub struct AuditFilterForm {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub since: String,
    pub until: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub title: &'static str,
    pub frame: Frame,
    /// The chain's verification (platform administrators): (intact, text).
    pub chain: Option<(bool, String)>,
    pub filter: AuditFilterForm,
    /// The export link of this view, without its format.
    pub export: String,
    pub events: Vec<EventRow>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub title: &'static str,
    pub frame: Frame,
    pub text: &'static str,
    pub reference: Option<String>,
}

/// One operation of the API reference.
#[derive(Debug, Clone, Default)]
pub struct Operation {
    /// An anchor: `get-tenants-slug-users`.
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    /// (name, location, required, description)
    pub params: Vec<(String, String, bool, String)>,
    /// (field, type, description) of a JSON body.
    pub body: Vec<(String, String, String)>,
    /// (status, description)
    pub responses: Vec<(String, String)>,
}

/// The admin API's browsable reference, drawn from its OpenAPI document.
#[derive(Template)]
#[template(path = "api_reference.html")]
pub struct ApiReferencePage {
    pub description: String,
    pub server: String,
    /// Operations by tag.
    pub groups: Vec<(String, Vec<Operation>)>,
}

/// The tenant's live sessions.
#[derive(Template)]
#[template(path = "sessions.html")]
pub struct SessionsPage {
    pub title: &'static str,
    pub frame: Frame,
    /// (username, session)
    pub sessions: Vec<(String, SessionRow)>,
}

/// An upstream as a row.
#[derive(Debug, Clone)]
pub struct UpstreamRow {
    pub name: String,
    pub display_name: String,
    pub issuer: String,
    pub link: &'static str,
    pub jit: bool,
    pub trust_mfa: bool,
    pub end_session: bool,
    pub sync_profile: bool,
    /// `claim=value:role` each.
    pub role_rules: Vec<String>,
}

/// The fields of an upstream's form (O8), as shown: empty for a new one, its settings for a
/// change (never its secret).
#[derive(Debug, Clone)]
pub struct UpstreamForm {
    pub name: String,
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub scope: String,
    /// `never`, `after-local-sign-in` or `verified-email`.
    pub link: String,
    pub trusted_email: bool,
    pub jit: bool,
    pub trust_mfa: bool,
    pub end_session: bool,
    pub sync_profile: bool,
    /// `client-secret` or `private-key-jwt`.
    pub auth: String,
    /// One per line.
    pub domains: String,
    /// One `claim=value:role` per line.
    pub role_rules: String,
}

impl Default for UpstreamForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            display_name: String::new(),
            issuer: String::new(),
            client_id: String::new(),
            scope: "openid profile email".into(),
            link: "never".into(),
            trusted_email: false,
            jit: true,
            trust_mfa: false,
            end_session: false,
            sync_profile: false,
            auth: "client-secret".into(),
            domains: String::new(),
            role_rules: String::new(),
        }
    }
}

/// The tenant's upstream providers (O8).
#[derive(Template)]
#[template(path = "upstreams.html")]
pub struct UpstreamsPage {
    pub title: &'static str,
    pub frame: Frame,
    /// The administered tenant's issuer (the redirect URIs to register are under it).
    pub issuer: String,
    pub upstreams: Vec<UpstreamRow>,
    /// The form of a new upstream.
    pub form: UpstreamForm,
    /// `None`: a new upstream (the form of [`UpstreamEditPage`] carries the version it shows).
    pub etag: Option<String>,
}

/// The change form of one upstream (O8).
#[derive(Template)]
#[template(path = "upstream_edit.html")]
pub struct UpstreamEditPage {
    pub title: &'static str,
    pub frame: Frame,
    pub issuer: String,
    pub form: UpstreamForm,
    /// The version the form shows (a change made meanwhile is refused).
    pub etag: Option<String>,
}
