//! The command line (operator contract): every administrative command takes `--json` and then
//! prints exactly one JSON object on stdout; errors go to stderr with a non-zero exit.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Gatehouse: a multi-tenant OpenID Connect / OAuth 2.0 identity provider.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version)]
pub struct Cli {
    /// Configuration file (TOML); GATEHOUSE_* environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTPS server and the HTTP→HTTPS redirector.
    Serve,
    /// Apply pending database migrations.
    Migrate(JsonFlag),
    /// Delete expired codes, tokens, sessions and requests now (the server does it every 15 min) (D3).
    Purge(JsonFlag),
    /// Write an encrypted, consistent snapshot of the database to a new file (D2).
    Backup {
        #[arg(long)]
        out: std::path::PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Replace the database by a backup (stop the server first) (D2).
    Restore {
        #[arg(long)]
        from: std::path::PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(Box<ClientCommand>),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Upstream OpenID Connect providers a tenant's users may sign in with (O8).
    #[command(subcommand)]
    Upstream(Box<UpstreamCommand>),
}

/// An upstream's settings, as `add` and `update` take them.
#[derive(Debug, clap::Args)]
pub struct UpstreamArgs {
    #[arg(long)]
    pub tenant: String,
    /// Lower-case letters, digits and hyphens; it names the upstream in URLs.
    #[arg(long)]
    pub name: String,
    /// The button's text: "Continue with …" (default: the name).
    #[arg(long)]
    pub display_name: Option<String>,
    /// The upstream's issuer (its discovery document is `{issuer}/.well-known/openid-configuration`).
    #[arg(long)]
    pub issuer: Option<String>,
    /// The client id Gatehouse has at the upstream.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Read the client secret from standard input (sealed at rest; never printed).
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// Space-separated scopes to ask for; must include openid (default "openid profile email").
    #[arg(long)]
    pub scope: Option<String>,
    /// When an upstream identity may link to an existing account: never (default),
    /// after-local-sign-in, or verified-email (needs --trust-email on).
    #[arg(long)]
    pub link: Option<String>,
    /// The upstream verifies e-mail addresses (needed to link by verified e-mail).
    #[arg(long, value_parser = on_off)]
    pub trust_email: Option<bool>,
    /// Create a local account for an unknown upstream identity at its first sign-in (default on).
    #[arg(long, value_parser = on_off)]
    pub jit: Option<bool>,
    /// Count the upstream's multi-factor sign-ins (its amr/acr say so) as multi-factor (default off).
    #[arg(long, value_parser = on_off)]
    pub trust_mfa: Option<bool>,
    /// CLAIM=VALUE:ROLE: grant ROLE while the ID token's CLAIM (a dotted path) is or holds VALUE;
    /// repeatable; given on update, the rules replace the upstream's.
    #[arg(long)]
    pub role_rule: Vec<String>,
    /// Remove every role rule of the upstream.
    #[arg(long, conflicts_with = "role_rule")]
    pub no_role_rules: bool,
    /// End the upstream's session too when a session that began there ends (RP-initiated
    /// logout; register {issuer}/upstream/logged-out there as a post-logout URI) (default off).
    #[arg(long, value_parser = on_off)]
    pub end_session: Option<bool>,
    /// Keep the account's display name and verified address as the upstream says at every
    /// sign-in (default off: taken at provisioning only).
    #[arg(long, value_parser = on_off)]
    pub sync_profile: Option<bool>,
    /// How Gatehouse authenticates to the upstream: client-secret (default) or
    /// private-key-jwt (signed with the tenant's key; the upstream reads {issuer}/jwks).
    #[arg(long)]
    pub auth: Option<String>,
    /// A domain whose addresses (an authorization request's login_hint) go straight to this
    /// upstream; repeatable; given on update, the domains replace the upstream's.
    #[arg(long)]
    pub domain: Vec<String>,
    /// Remove every routing domain of the upstream.
    #[arg(long, conflicts_with = "domain")]
    pub no_domains: bool,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum UpstreamCommand {
    /// Add an upstream provider to a tenant.
    Add(UpstreamArgs),
    /// Change an upstream; options left out stay as they are.
    Update(UpstreamArgs),
    /// List a tenant's upstreams (never their secrets).
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Remove an upstream.
    Remove {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Rotate the master key (D1): write a new one to a new file and re-wrap every data key
    /// under it. Point `master_key_file` (or GATEHOUSE_MASTER_KEY) at the new key before the
    /// next start: the old one no longer opens the data.
    RotateMaster {
        /// Where to write the new key; must not exist.
        #[arg(long)]
        new_key_file: std::path::PathBuf,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Publish a new signing key; the previous one stays in the JWKS for the overlap window.
    Rotate {
        #[arg(long)]
        tenant: String,
        /// ES256 (default), RS256 or EdDSA.
        #[arg(long, default_value = "ES256")]
        alg: String,
        /// Seconds the previous key keeps verifying (default one day).
        #[arg(long, default_value_t = 86_400)]
        overlap_secs: i64,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with its own issuer.
    Create {
        /// URL-safe name: lower-case letters, digits and '-'.
        slug: String,
        #[arg(long)]
        display_name: Option<String>,
        /// S5: end a session presented from another user agent or address than it began with.
        #[arg(long)]
        bind_sessions: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Change a tenant's account policies (A2, A9, AC3); options left out stay as they are.
    Update {
        slug: String,
        /// A2: refuse this many earlier passwords (0–24; default 5).
        #[arg(long)]
        password_history: Option<u8>,
        /// A2: days after which a password must be changed (0 = never, the default).
        #[arg(long)]
        password_max_age_days: Option<u32>,
        /// A9: let users reset a forgotten password by e-mail.
        #[arg(long, value_parser = on_off)]
        password_reset: Option<bool>,
        /// AC3: let anyone sign up (e-mail confirmed first).
        #[arg(long, value_parser = on_off)]
        self_registration: Option<bool>,
        /// Sender of the tenant's mail, `Name <address>` ("" for the server's).
        #[arg(long)]
        mail_from: Option<String>,
        /// A6: second factors `off` (not offered; administrators still need one), `optional`
        /// (the default) or `required` for every user.
        #[arg(long, value_parser = mfa_policy)]
        mfa: Option<gatehouse_core::mfa::MfaPolicy>,
        /// A5: let users sign in with a passkey alone.
        #[arg(long, value_parser = on_off)]
        passwordless: Option<bool>,
        /// A6: minutes within which the sign-in must be for changing the password or factors
        /// (1–1440; default 10).
        #[arg(long)]
        recent_auth_minutes: Option<u16>,
        /// S4: minutes without activity after which a session ends (5–1440; default 30).
        #[arg(long)]
        session_idle_minutes: Option<u32>,
        /// S4: hours after its sign-in after which a session ends (1–720; default 12).
        #[arg(long)]
        session_max_hours: Option<u32>,
        /// A4: failed sign-ins in a row that lock the account (3–20; default 5).
        #[arg(long)]
        lockout_threshold: Option<u8>,
        /// A4: minutes the first lockout lasts, doubling on repeat up to a day (1–1440;
        /// default 15).
        #[arg(long)]
        lockout_minutes: Option<u32>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

/// `off`, `optional` or `required`.
fn mfa_policy(value: &str) -> Result<gatehouse_core::mfa::MfaPolicy, String> {
    gatehouse_core::mfa::MfaPolicy::parse(value).ok_or_else(|| "expected off, optional or required".to_owned())
}

/// `on` or `off`.
fn on_off(value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("expected on or off".to_owned()),
    }
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an OAuth client; a confidential client's secret is printed once, here only.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// public or confidential
        #[arg(long = "type")]
        client_type: String,
        #[arg(long = "redirect-uri", num_args = 1..)]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
        post_logout_redirect_uris: Vec<String>,
        /// authorization_code, refresh_token, client_credentials
        #[arg(long = "grant", num_args = 1.., required = true)]
        grants: Vec<String>,
        /// Space-separated scopes the client may request.
        #[arg(long)]
        scope: String,
        /// A first-party client skips the consent screen.
        #[arg(long)]
        first_party: bool,
        /// `aud` of its access tokens (default: its own client id).
        #[arg(long = "audience", num_args = 1..)]
        audiences: Vec<String>,
        /// Access-token lifetime in seconds (default 300).
        #[arg(long)]
        access_token_ttl: Option<i64>,
        /// Refresh-token lifetime in seconds (default 30 days).
        #[arg(long)]
        refresh_token_ttl: Option<i64>,
        /// ES256 (default), RS256 or EdDSA.
        #[arg(long)]
        signing_alg: Option<String>,
        /// Browser origins allowed to call the token, userinfo and revocation endpoints.
        #[arg(long = "web-origin", num_args = 1..)]
        web_origins: Vec<String>,
        /// Where back-channel logout tokens are sent.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// A JSON Web Key Set file of the client's public keys, for private_key_jwt.
        #[arg(long, value_name = "FILE")]
        jwks_file: Option<std::path::PathBuf>,
        /// Roles of a service client (confidential, client_credentials), carried in its tokens;
        /// `platform-admin`, `tenant-admin` or `helpdesk` let it use the admin API (AC4).
        #[arg(long = "role", num_args = 1..)]
        roles: Vec<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user: with a password read from standard input, or (without
    /// `--password-stdin`) with none, and an invitation to choose it mailed to them (A8).
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input (it never goes on the command line).
        #[arg(long)]
        password_stdin: bool,
        #[arg(long = "role", num_args = 1..)]
        roles: Vec<String>,
        /// The user must choose a new password at first sign-in.
        #[arg(long)]
        must_change_password: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Set a new password (read from standard input); ends the user's sessions and revokes
    /// their refresh tokens (A9).
    ResetPassword {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        /// Read the password from standard input (it never goes on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The user must choose a new password at next sign-in.
        #[arg(long)]
        must_change_password: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Delete a user with their personal data; the audit log keeps only their random id (D3).
    Delete {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Lift the lockout that repeated sign-in failures put on an account (A4).
    Unlock {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Mail a new set-password link (72 hours); earlier links stop working (A8).
    Invite {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List the user's live sessions (S8).
    Sessions {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// End the user's sessions, or the one with `--sid`; their applications are told (S6, S8).
    EndSessions {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        /// A session id is base64url and may begin with `-`: taken as a value, not an option.
        #[arg(long, allow_hyphen_values = true)]
        sid: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// The user's second factors (A5, A6).
    #[command(subcommand)]
    Mfa(MfaCommand),
}

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// List the user's second factors and how many recovery codes are left.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Remove every second factor and recovery code of the user (a lost device); where a
    /// factor is required the user enrols again at the next sign-in.
    Reset {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of the whole audit log.
    Verify(JsonFlag),
    /// Remove records older than the retention (the server does it every 15 min) (L3).
    Prune {
        /// Days to keep (default: the configured `audit_retention_days`).
        #[arg(long)]
        older_than_days: Option<u32>,
        #[command(flatten)]
        out: JsonFlag,
    },
}
