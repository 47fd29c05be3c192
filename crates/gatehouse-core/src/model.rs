//! The stored entities, as core sees them. Secrets inside are hashes or sealed values only.

use gatehouse_types::{ClientType, GrantType, Secret};

use crate::jose::SigningAlg;
use serde::{Deserialize, Serialize};

/// A tenant: its own issuer, keys, users, clients and roles (AC1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub display_name: String,
    /// The platform tenant holds the platform administrators (AC4).
    pub is_platform: bool,
    pub created_at: i64,
    /// S5: sessions are bound to the user agent and address that created them.
    pub bind_sessions: bool,
    /// A2, A9, AC3: the tenant's account policies.
    pub policy: TenantPolicy,
}

/// A tenant's account policies, stored as JSON; a field not stored takes its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantPolicy {
    /// A2: this many earlier passwords are refused (default 5; 0 = none).
    pub password_history: u8,
    /// A2: days after which a password must be changed at sign-in (default 0: never).
    pub password_max_age_days: u32,
    /// A9: users may reset a forgotten password through an e-mailed link (default off).
    pub password_reset: bool,
    /// AC3: anyone may sign up, confirming their e-mail address first (default off).
    pub self_registration: bool,
    /// Sender address of the tenant's mail (default: the server's `smtp_from`).
    pub mail_from: Option<String>,
    /// A6: whether users may (`optional`, the default) or must (`required`) sign in with a
    /// second factor, or are not offered one (`off`); administrators always need one.
    pub mfa: crate::mfa::MfaPolicy,
    /// A5: users may sign in with a passkey alone (discoverable credentials; default off).
    pub passwordless: bool,
    /// A6: how recent (minutes) the sign-in with every factor must be for changing the
    /// password or the factors (default 10).
    pub recent_auth_minutes: u16,
    /// S4: a session ends after this many minutes without activity (default 30; 5–1440).
    pub session_idle_minutes: u32,
    /// S4: a session ends this many hours after its sign-in, however active (default 12;
    /// 1–720).
    pub session_max_hours: u32,
    /// A4: this many failed sign-ins in a row lock the account (default 5; 3–20).
    pub lockout_threshold: u8,
    /// A4: the first lockout lasts this many minutes, doubling on repeat up to a day
    /// (default 15; 1–1440).
    pub lockout_minutes: u32,
}

/// IO1: a mail sender: `address` or `Name <address>`, printable, no line breaks.
pub fn is_mailbox(value: &str) -> bool {
    let address = match value.rsplit_once('<') {
        Some((name, rest)) => {
            if name.contains(['"', '\\']) {
                return false;
            }
            let Some(address) = rest.strip_suffix('>') else { return false };
            address
        }
        None => value,
    };
    value.len() <= 200 && !value.chars().any(char::is_control) && gatehouse_types::Email::parse(address.trim()).is_ok()
}

impl Default for TenantPolicy {
    fn default() -> Self {
        Self {
            password_history: 5,
            password_max_age_days: 0,
            password_reset: false,
            self_registration: false,
            mail_from: None,
            mfa: crate::mfa::MfaPolicy::Optional,
            passwordless: false,
            recent_auth_minutes: 10,
            session_idle_minutes: 30,
            session_max_hours: 12,
            lockout_threshold: 5,
            lockout_minutes: 15,
        }
    }
}

impl TenantPolicy {
    /// S4: the tenant's session timeouts.
    pub fn sessions(&self) -> crate::flow::session::SessionPolicy {
        crate::flow::session::SessionPolicy {
            idle_secs: i64::from(self.session_idle_minutes) * 60,
            absolute_secs: i64::from(self.session_max_hours) * 3600,
        }
    }

    /// A4: the tenant's lockout.
    pub fn lockout(&self) -> crate::password::LockoutPolicy {
        let base_secs = i64::from(self.lockout_minutes) * 60;
        crate::password::LockoutPolicy {
            threshold: i32::from(self.lockout_threshold),
            base_secs,
            max_secs: base_secs.max(86_400),
        }
    }
}

impl Tenant {
    /// The tenant's issuer: `{public_url}/tenants/{slug}` (design: operator contract).
    pub fn issuer(&self, public_url: &str) -> String {
        format!("{}/tenants/{}", public_url.trim_end_matches('/'), self.slug)
    }
}

/// A user account of one tenant. `password_hash` is an Argon2id PHC string (A1), never output (IO5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    pub username: String,
    pub email: String,
    pub password_hash: Option<Secret<String>>,
    /// Set for one-time passwords: the user must choose a new one at next login (A8).
    pub must_change_password: bool,
    pub disabled: bool,
    pub created_at: i64,
    /// How the user wants to be called (may be empty).
    pub display_name: String,
    /// AC3: a self-registered user confirms the address before signing in.
    pub email_verified: bool,
    /// A2: when the password was last set (`None`: before this was recorded, or never).
    pub password_changed_at: Option<i64>,
}

/// An OAuth client of one tenant. `secret_hash` is a keyed SHA-256 hash (O3), never output (IO5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub client_type: ClientType,
    pub secret_hash: Option<Vec<u8>>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scope: String,
    /// First-party clients skip the consent screen (O6).
    pub first_party: bool,
    pub created_at: i64,
    /// `aud` of the access tokens it gets; empty means its own client id.
    pub audiences: Vec<String>,
    /// Lifetimes in seconds (O4).
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    /// Algorithm of its ID and access tokens (O4).
    pub signing_alg: SigningAlg,
    /// Browser origins allowed by CORS on token, userinfo and revocation (O7).
    pub web_origins: Vec<String>,
    /// Where back-channel logout tokens are POSTed (S6).
    pub backchannel_logout_uri: Option<String>,
    /// Public keys for `private_key_jwt` client authentication (RFC 7523), a JWK set.
    pub jwks: Option<serde_json::Value>,
    /// AC4, AC5: roles of a service client (confidential, client credentials), carried in
    /// its access tokens; an administrative role lets it call the admin API at that level.
    pub roles: Vec<String>,
}

impl Client {
    /// The access-token audience: the registered audiences, or the client itself.
    pub fn token_audience(&self) -> Vec<String> {
        if self.audiences.is_empty() { vec![self.client_id.clone()] } else { self.audiences.clone() }
    }
}

/// Built-in roles carrying the privilege levels of AC4; any other role is an application role.
pub mod roles {
    /// Platform administrator: only in the platform tenant.
    pub const PLATFORM_ADMIN: &str = "platform-admin";
    /// Tenant administrator.
    pub const TENANT_ADMIN: &str = "tenant-admin";
    /// Help-desk operator.
    pub const HELPDESK: &str = "helpdesk";
}
