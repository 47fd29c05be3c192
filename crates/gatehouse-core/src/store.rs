//! Storage traits, named after domain operations; `gatehouse-store` implements them with diesel
//! on SQLite and PostgreSQL. Every operation that reads or writes tenant data takes the tenant
//! (AC1); every write that an administrator causes takes its audit event and records it in the
//! same transaction (L3).

use gatehouse_types::RoleName;

use crate::audit::{AuditEvent, AuditRecord};
use crate::model::{Client, Tenant, User};

/// A storage failure. `Conflict` and `NotFound` carry fixed texts fit for the operator; the
/// detail of `Unavailable` goes to the log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A change the stored data does not allow, with a text for the operator.
    #[error("{0}")]
    Refused(String),
}

/// A conditional change found the record changed since the caller read it (RFC 9110 §13.1.1:
/// the admin API answers 412).
pub const CHANGED_MEANWHILE: StoreError = StoreError::Conflict("changed by someone else since it was read");

/// Tenants (AC1).
pub trait TenantStore {
    /// Inserts a tenant; a taken slug is `Conflict`.
    fn create_tenant(&self, tenant: &Tenant, audit: &AuditEvent) -> Result<(), StoreError>;
    /// The tenant with this slug.
    fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError>;
    /// The platform tenant, if created.
    fn platform_tenant(&self) -> Result<Option<Tenant>, StoreError>;
    /// Every tenant, by slug.
    fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
}

/// Users and their roles (A1, AC5).
pub trait UserStore {
    /// Inserts a user with roles (created in the tenant if new); a taken username or e-mail is
    /// `Conflict`, and then nothing is written.
    fn create_user(&self, user: &User, roles: &[RoleName], audit: &AuditEvent) -> Result<(), StoreError>;
    /// The user `user_id` of `tenant_id`.
    fn user_by_id(&self, tenant_id: &str, user_id: &str) -> Result<Option<User>, StoreError>;
    /// The user of `tenant_id` called `username`.
    fn user_by_username(&self, tenant_id: &str, username: &str) -> Result<Option<User>, StoreError>;
    /// The role names of a user in a tenant, sorted.
    fn user_roles(&self, tenant_id: &str, user_id: &str) -> Result<Vec<String>, StoreError>;
    /// The user with this (normalized) e-mail address.
    fn user_by_email(&self, tenant_id: &str, email: &str) -> Result<Option<User>, StoreError>;
    /// A page of the tenant's users by username: those after `after`, whose username or
    /// e-mail contains `search` (case-insensitively), at most `limit`.
    fn list_users(
        &self,
        tenant_id: &str,
        search: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<User>, StoreError>;
    /// A1: replaces the password hash with one of the current parameters, only if it is still
    /// `old_hash` (a concurrent change wins); `true` when replaced.
    fn rehash_password(
        &self,
        tenant_id: &str,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError>;
    /// How many users of the tenant hold `role`.
    fn count_role_members(&self, tenant_id: &str, role: &str) -> Result<i64, StoreError>;
    /// D3: deletes the user with their personal data (sessions, consents, roles, codes, refresh
    /// tokens, failed sign-ins) and appends `audit`, in one transaction.
    fn delete_user(&self, tenant_id: &str, user_id: &str, now: i64, audit: &AuditEvent) -> Result<(), StoreError>;
}

/// Failed sign-ins per account (A4).
pub trait LockoutStore {
    /// The account's failure state (default when it has none).
    fn lockout(&self, tenant_id: &str, user_id: &str) -> Result<crate::password::LockoutState, StoreError>;
    /// A4: admits one sign-in attempt before its password is checked (see
    /// `LockoutState::admit`), atomically; `false` when refused (locked, or enough attempts
    /// undecided to lock it). Every admission ends in `record_failure` or `record_success`.
    fn admit_attempt(
        &self,
        tenant_id: &str,
        user_id: &str,
        policy: crate::password::LockoutPolicy,
        now: crate::UnixTime,
    ) -> Result<bool, StoreError>;
    /// Counts one failure of an admitted attempt atomically (concurrent failures are all
    /// counted) and returns the new state; when it starts a lockout, `on_lockout` is appended
    /// to the audit log with it.
    fn record_failure(
        &self,
        tenant_id: &str,
        user_id: &str,
        policy: crate::password::LockoutPolicy,
        now: crate::UnixTime,
        on_lockout: &AuditEvent,
    ) -> Result<crate::password::LockoutState, StoreError>;
    /// A right password of an admitted attempt: forgets failures and lockouts and returns
    /// `true`, unless the account was locked meanwhile (`false`: the attempt fails).
    fn record_success(&self, tenant_id: &str, user_id: &str, now: crate::UnixTime) -> Result<bool, StoreError>;
    /// Forgets the account's failures and lockouts (an administrator lifting a lock, which
    /// passes its audit record); `false` when there was nothing to clear.
    fn clear_lockout(&self, tenant_id: &str, user_id: &str, audit: Option<&AuditEvent>) -> Result<bool, StoreError>;
}

/// OAuth clients (O3).
pub trait ClientStore {
    /// Inserts a client; a taken name in the tenant is `Conflict`.
    fn create_client(&self, client: &Client, audit: &AuditEvent) -> Result<(), StoreError>;
    /// The client `client_id` of tenant `tenant_id`; another tenant's client is `None`.
    fn client_by_id(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>, StoreError>;
    /// Every web origin some client of the tenant registered (CORS preflights, O7).
    fn tenant_web_origins(&self, tenant_id: &str) -> Result<Vec<String>, StoreError>;
}

/// Which audit records an administrator asks for (L3, AC6). Every field narrows; `tenant_id`
/// is set for everyone but a platform administrator (AC1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub tenant_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    /// Records at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Records before this time (Unix seconds).
    pub until: Option<i64>,
    /// Records with a smaller sequence number (the cursor: newest first).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// Administrative reads and changes beyond creation (AC1: every call names its tenant; L3:
/// every change writes its audit event in the same transaction).
pub trait AdminStore {
    /// The tenant's clients, by name.
    fn list_clients(&self, tenant_id: &str) -> Result<Vec<Client>, StoreError>;
    /// Replaces `before` with `after` (same tenant and id) only if the stored client still
    /// equals `before` (`Conflict` otherwise: someone changed it meanwhile).
    fn replace_client(&self, before: &Client, after: &Client, audit: &AuditEvent) -> Result<(), StoreError>;
    /// Deletes the client `before` with its codes, refresh tokens, consents and session links,
    /// only if it is still as read ([`CHANGED_MEANWHILE`] otherwise).
    fn delete_client(&self, before: &Client, audit: &AuditEvent) -> Result<(), StoreError>;
    /// Replaces the user's roles, only if they are still `before` (`Conflict` otherwise).
    fn set_user_roles(
        &self,
        tenant_id: &str,
        user_id: &str,
        before: &[String],
        roles: &[String],
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Changes a user's display name, address and disabled flag from `before` to `after` (same
    /// tenant and id), only if the stored user still equals `before` (`Conflict` otherwise). A
    /// user being disabled loses every session (their clients told) and refresh token with it.
    fn update_user(&self, before: &User, after: &User, now: i64, audit: &AuditEvent) -> Result<(), StoreError>;
    /// S8: the tenant's live sessions at `now`, most recently active first, with the username
    /// of each.
    fn tenant_sessions(
        &self,
        tenant_id: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(SessionRecord, String)>, StoreError>;
    /// The tenant's roles with how many users hold each, by name.
    fn list_roles(&self, tenant_id: &str) -> Result<Vec<(String, i64)>, StoreError>;
    /// Audit records matching `filter`, newest first.
    fn search_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;
}

/// Upstream identity providers of a tenant (O8).
pub trait UpstreamStore {
    /// Inserts an upstream; a taken name in the tenant is `Conflict`.
    fn create_upstream(&self, upstream: &crate::federation::Upstream, audit: &AuditEvent) -> Result<(), StoreError>;
    /// The tenant's upstreams, by name.
    fn upstreams(&self, tenant_id: &str) -> Result<Vec<crate::federation::Upstream>, StoreError>;
    /// The upstream `name` of the tenant.
    fn upstream_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<crate::federation::Upstream>, StoreError>;
    /// Replaces `before` with `after` (same tenant and id) only if the stored upstream still
    /// equals `before` ([`CHANGED_MEANWHILE`] otherwise).
    fn replace_upstream(
        &self,
        before: &crate::federation::Upstream,
        after: &crate::federation::Upstream,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Deletes the upstream `before`, only if it is still as read ([`CHANGED_MEANWHILE`] otherwise).
    fn delete_upstream(&self, before: &crate::federation::Upstream, audit: &AuditEvent) -> Result<(), StoreError>;
    /// The local account the upstream identity (upstream, `sub`) signs in as, if linked.
    fn identity_user(&self, tenant_id: &str, upstream_id: &str, subject: &str) -> Result<Option<String>, StoreError>;
    /// Links an upstream identity to its account; an identity already linked is `Conflict`
    /// (one identity, one account), as is a second identity of the same upstream for a user.
    fn link_identity(&self, identity: &crate::federation::LinkedIdentity, audit: &AuditEvent)
    -> Result<(), StoreError>;
    /// The upstream identities linked to a user, oldest first.
    fn identities_of(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Vec<crate::federation::LinkedIdentity>, StoreError>;
    /// Removes the link of (upstream, `sub`) to `user_id`; whether there was one.
    fn unlink_identity(
        &self,
        tenant_id: &str,
        user_id: &str,
        upstream_id: &str,
        subject: &str,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;
    /// JIT (O8): creates `user` with `roles` and links `identity` to it, with `audit`, in one
    /// transaction (a taken username or address, or a linked identity, is `Conflict`).
    fn provision_identity(
        &self,
        user: &User,
        roles: &[RoleName],
        identity: &crate::federation::LinkedIdentity,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// O8: the session `sid` began at `upstream_id`, whose sealed ID token is its logout hint.
    fn save_upstream_session(
        &self,
        tenant_id: &str,
        sid: &str,
        upstream_id: &str,
        sealed_id_token: &[u8],
    ) -> Result<(), StoreError>;
    /// The upstream the session `sid` began at, with its sealed ID token.
    fn upstream_session(&self, tenant_id: &str, sid: &str) -> Result<Option<(String, Vec<u8>)>, StoreError>;
    /// How many identities of the upstream are linked.
    fn identities_linked(&self, tenant_id: &str, upstream_id: &str) -> Result<i64, StoreError>;
    /// Records that (upstream, `sub`) signed in at `now`.
    fn identity_used(&self, tenant_id: &str, upstream_id: &str, subject: &str, now: i64) -> Result<(), StoreError>;
}

/// The audit log (L3).
pub trait AuditStore {
    /// Appends one event to the chain; returns its sequence number.
    fn append_audit(&self, event: &AuditEvent) -> Result<i64, StoreError>;
    /// Appends several events in one transaction (group commit): all or none are durable.
    fn append_audit_batch(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// Up to `limit` records with `seq > after`, in order.
    fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError>;
    /// L3 retention: where the chain starts after pruning, if it was ever pruned.
    fn audit_anchor(&self) -> Result<Option<crate::audit::AuditAnchor>, StoreError>;
    /// L3 retention: removes the records older than `before` (never the newest), keeps the last
    /// removed one's sequence and hash as the anchor, and appends `audit`, in one transaction.
    /// Returns how many records went.
    fn prune_audit(&self, before: i64, audit: &AuditEvent) -> Result<u64, StoreError>;
}

/// A token signing key as stored: the private key sealed under the signing-key DEK (D1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    pub kid: String,
    pub tenant_id: String,
    pub alg: String,
    pub sealed_private_key: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    /// `None` while current; then published until this time (overlap window).
    pub retire_at: Option<i64>,
}

/// Token signing keys per tenant (O4).
pub trait SigningKeyStore {
    /// The tenant's keys that are current or still inside their overlap window at `now`,
    /// oldest first.
    fn published_keys(&self, tenant_id: &str, now: i64) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Adds `key` as the current key of its algorithm; the previous current key(s) of that
    /// algorithm stay published until `retire_previous_at`. One transaction, audited.
    fn add_signing_key(
        &self,
        key: &StoredSigningKey,
        retire_previous_at: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
}

/// Revoked access tokens, by `jti` (RFC 7009).
pub trait RevocationStore {
    /// Records the revocation (idempotent) with its audit record.
    fn revoke_jti(
        &self,
        tenant_id: &str,
        jti: &str,
        client_id: &str,
        expires_at: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Whether `jti` of the tenant is revoked.
    fn is_revoked(&self, tenant_id: &str, jti: &str) -> Result<bool, StoreError>;
    /// Records a client assertion's `jti` (RFC 7523 §3 item 7); `false` if it was seen before.
    fn use_assertion_jti(
        &self,
        tenant_id: &str,
        client_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError>;
}

/// A server-side session (S1); `amr` is space-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub sid: String,
    pub tenant_id: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: String,
    pub acr: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// S5: SHA-256 of the `User-Agent` the session was created with.
    pub user_agent_hash: Option<Vec<u8>>,
    /// S5: the client address the session was created from.
    pub client_ip: Option<String>,
    /// S8: the user agent the session was started from (shortened), shown to its user.
    pub user_agent: Option<String>,
}

/// An authorization request waiting for login or consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub id: String,
    pub tenant_id: String,
    pub client_id: String,
    /// The validated request, as JSON.
    pub params: String,
    pub binding_hash: Vec<u8>,
    pub csrf_hash: Vec<u8>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An authorization code as stored (O2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    pub code_hash: Vec<u8>,
    pub tenant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth_time: i64,
    pub amr: String,
    pub acr: String,
    pub expires_at: i64,
}

/// What consuming a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeUse {
    /// First use: the code, now consumed.
    Fresh(Box<CodeRecord>),
    /// Already used: what was issued from it, to revoke (O2).
    Replayed { client_id: String, family_id: Option<String>, access_jti: Option<String> },
    /// Unknown or expired.
    Invalid,
}

/// A refresh token as stored (O3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub token_hash: Vec<u8>,
    pub tenant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub family_id: String,
    pub sid: String,
    pub scope: String,
    pub auth_time: i64,
    pub amr: String,
    pub acr: String,
    pub access_jti: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Valid and now rotated: the old record.
    Rotated(Box<RefreshRecord>),
    /// Already rotated or revoked: reuse; its family must be revoked (O3).
    Reused { client_id: String, family_id: String },
    /// Unknown or expired.
    Invalid,
}

/// S6: a back-channel logout notice waiting for delivery, queued when a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutNotice {
    pub id: String,
    pub tenant_id: String,
    /// The tenant's slug (its issuer's last segment).
    pub tenant_slug: String,
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
    /// Delivery attempts so far.
    pub attempts: i32,
}

/// S6: the outbox of back-channel logout notices. Every way a session ends (logout, binding
/// mismatch, password reset, user deletion) queues one per client that took part in it, in
/// the same transaction, and revokes the refresh tokens issued in it.
pub trait LogoutNoticeStore {
    /// Notices due for delivery at `now`, at most `limit`.
    fn due_logout_notices(&self, now: i64, limit: i64) -> Result<Vec<LogoutNotice>, StoreError>;
    /// Claims a due notice for one delivery attempt, deferring the next to `retry_at`; `false`
    /// when another node claimed it first (a conditional update, so it holds across nodes).
    fn claim_logout_notice(&self, id: &str, now: i64, retry_at: i64) -> Result<bool, StoreError>;
    /// Removes a notice that was delivered or given up.
    fn finish_logout_notice(&self, id: &str) -> Result<(), StoreError>;
}

/// Sessions, pending requests, codes, refresh tokens and consents (S1, O2, O3, O6).
pub trait FlowStore {
    fn create_session(&self, id_hash: &[u8], s: &SessionRecord, audit: &AuditEvent) -> Result<(), StoreError>;
    /// The live (not ended, not expired at `now`) session with this id hash.
    fn session(&self, tenant_id: &str, id_hash: &[u8], now: i64) -> Result<Option<SessionRecord>, StoreError>;
    /// S3: gives the live session `old_hash` of `s.user_id` the identifier `new_hash` and the
    /// authentication in `s` (same `sid`), with its audit record; `false` when there is no
    /// such session (ended meanwhile, or another user's).
    fn renew_session(
        &self,
        tenant_id: &str,
        old_hash: &[u8],
        new_hash: &[u8],
        s: &SessionRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;
    /// Records activity (idle timeout, S4).
    fn touch_session(&self, tenant_id: &str, id_hash: &[u8], now: i64) -> Result<(), StoreError>;
    /// Ends the session; returns it if it was live.
    fn end_session(
        &self,
        tenant_id: &str,
        id_hash: &[u8],
        now: i64,
        audit: &AuditEvent,
    ) -> Result<Option<SessionRecord>, StoreError>;

    fn save_request(&self, r: &PendingRequest) -> Result<(), StoreError>;
    fn pending_request(&self, tenant_id: &str, id: &str, now: i64) -> Result<Option<PendingRequest>, StoreError>;
    fn delete_request(&self, tenant_id: &str, id: &str) -> Result<(), StoreError>;
    /// Replaces a waiting request's stored interaction (its progress past the password).
    /// Deletes the waiting request `id`; whether it was there (so of two callers with the same
    /// request, exactly one takes it: single use).
    fn take_request(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError>;
    fn update_request(&self, tenant_id: &str, id: &str, params: &str) -> Result<(), StoreError>;

    fn save_code(&self, c: &CodeRecord, audit: &AuditEvent) -> Result<(), StoreError>;
    /// Consumes the code once (conditional update, so it holds under concurrency and across
    /// nodes), recording the family and access token that will be issued from it.
    fn consume_code(
        &self,
        tenant_id: &str,
        code_hash: &[u8],
        now: i64,
        family_id: &str,
        access_jti: &str,
    ) -> Result<CodeUse, StoreError>;

    fn save_refresh(&self, r: &RefreshRecord, audit: &AuditEvent) -> Result<(), StoreError>;
    /// Rotates a refresh token presented by `client_id`: marks it used and stores the successor
    /// `next` builds from it, with the audit record, in one transaction.
    fn rotate_refresh(
        &self,
        tenant_id: &str,
        token_hash: &[u8],
        client_id: &str,
        now: i64,
        next: &dyn Fn(&RefreshRecord) -> (RefreshRecord, AuditEvent),
    ) -> Result<RefreshUse, StoreError>;
    /// Revokes every token of a family (refresh tokens and their access tokens' jtis).
    fn revoke_family(&self, tenant_id: &str, family_id: &str, now: i64, audit: &AuditEvent) -> Result<(), StoreError>;
    /// The live (neither rotated nor revoked) refresh token with this hash.
    fn refresh_by_hash(&self, tenant_id: &str, token_hash: &[u8]) -> Result<Option<RefreshRecord>, StoreError>;

    /// The clients that took part in session `sid` (were issued a code in it), for as long as
    /// the session is kept (back-channel logout, S6).
    fn session_clients(&self, tenant_id: &str, sid: &str) -> Result<Vec<String>, StoreError>;

    fn consent(&self, tenant_id: &str, user_id: &str, client_id: &str) -> Result<Option<String>, StoreError>;
    fn save_consent(
        &self,
        tenant_id: &str,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
}

/// Which of a user's sessions end (S8, A9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionsToEnd<'a> {
    /// Every live session of the user.
    All,
    /// Every one but the session with this `sid` (the one the user acts from).
    AllBut(&'a str),
    /// Only the session with this `sid`.
    One(&'a str),
    /// None.
    None,
}

/// A new password as the store sets it (A2, A9).
#[derive(Debug, Clone)]
pub struct NewPassword<'a> {
    pub tenant_id: &'a str,
    pub user_id: &'a str,
    pub hash: &'a str,
    pub now: i64,
    /// The user must choose another password at the next sign-in (an operator's reset).
    pub must_change: bool,
    /// The old hash joins the history, which keeps this many (0: none kept).
    pub keep_history: u8,
    /// The sessions that end with the change; their clients are told (S6) and the user's
    /// refresh tokens outside the kept session are revoked.
    pub end: SessionsToEnd<'a>,
}

/// A consent a user gave (O6), as the account pages list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub client_id: String,
    pub scope: String,
    pub granted_at: i64,
}

/// A user's own account (A2, A8, A9, S8, AC3). Every change carries its audit record and is
/// written in one transaction with it.
pub trait AccountStore {
    /// Stores a new single-use link, voiding the user's unused ones of the same purpose, and
    /// queues its mail (`(outbox id, sealed message)`) in the same transaction.
    fn issue_user_token(
        &self,
        token: &crate::account::UserToken,
        mail: Option<(&str, &[u8])>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// The unused, unexpired link with this hash and purpose, without using it.
    fn user_token(
        &self,
        tenant_id: &str,
        token_hash: &[u8],
        purpose: crate::account::TokenPurpose,
        now: i64,
    ) -> Result<Option<crate::account::UserToken>, StoreError>;
    /// Uses the link once (a conditional update, so it holds under concurrency); `None` when
    /// it is unknown, used, expired or of another purpose, which changes nothing.
    fn use_user_token(
        &self,
        tenant_id: &str,
        token_hash: &[u8],
        purpose: crate::account::TokenPurpose,
        now: i64,
    ) -> Result<Option<crate::account::UserToken>, StoreError>;
    /// How many links of `purpose` the user was sent since `since` (per-account limits).
    fn tokens_issued_since(
        &self,
        tenant_id: &str,
        user_id: &str,
        purpose: crate::account::TokenPurpose,
        since: i64,
    ) -> Result<i64, StoreError>;
    /// The user's earlier password hashes, newest first, at most `limit`.
    fn password_history(&self, tenant_id: &str, user_id: &str, limit: usize) -> Result<Vec<String>, StoreError>;
    /// Sets a password, keeps the history, forgets failed sign-ins, ends sessions as asked;
    /// returns (sessions ended, refresh tokens revoked).
    fn set_password(&self, change: &NewPassword<'_>, audit: &AuditEvent) -> Result<(usize, usize), StoreError>;
    fn set_display_name(
        &self,
        tenant_id: &str,
        user_id: &str,
        name: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Sets a confirmed e-mail address; a taken one is `Conflict`.
    fn set_email(&self, tenant_id: &str, user_id: &str, email: &str, audit: &AuditEvent) -> Result<(), StoreError>;
    /// The user's live sessions at `now`, newest first.
    fn sessions_of(&self, tenant_id: &str, user_id: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError>;
    /// Ends sessions of the user (clients told, their refresh tokens revoked); how many ended.
    fn end_sessions(
        &self,
        tenant_id: &str,
        user_id: &str,
        which: SessionsToEnd<'_>,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<usize, StoreError>;
    fn consents_of(&self, tenant_id: &str, user_id: &str) -> Result<Vec<Consent>, StoreError>;
    /// Withdraws a consent and revokes that client's refresh tokens for the user.
    fn revoke_consent(
        &self,
        tenant_id: &str,
        user_id: &str,
        client_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;
    /// The newest audit records of the tenant that the user did or that were done to them.
    fn audit_of_user(&self, tenant_id: &str, user_id: &str, limit: i64) -> Result<Vec<AuditRecord>, StoreError>;
    /// Replaces the tenant's account policies, if they are still `before` (`Conflict` when
    /// another change came first: no change overwrites another silently).
    fn set_tenant_policy(
        &self,
        tenant_id: &str,
        before: &crate::model::TenantPolicy,
        policy: &crate::model::TenantPolicy,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
}

/// The mail outbox (sealed messages; see [`crate::mail`]).
pub trait MailStore {
    fn queue_mail(&self, id: &str, tenant_id: Option<&str>, sealed: &[u8], now: i64) -> Result<(), StoreError>;
    /// Messages due at `now`, at most `limit`.
    fn due_mail(&self, now: i64, limit: i64) -> Result<Vec<crate::mail::QueuedMail>, StoreError>;
    /// Claims a due message for one attempt, deferring the next to `retry_at`; `false` when
    /// another node claimed it first.
    fn claim_mail(&self, id: &str, now: i64, retry_at: i64) -> Result<bool, StoreError>;
    /// Removes a message that was sent or given up.
    fn finish_mail(&self, id: &str) -> Result<(), StoreError>;
}

/// A WebAuthn ceremony waiting for the browser's answer (A5): the serialized state of the
/// challenge, for one user (or any, for a passwordless sign-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub id: String,
    pub tenant_id: String,
    pub user_id: Option<String>,
    /// What it is for: `register`, `authenticate`, `discover`.
    pub purpose: String,
    pub state: String,
    pub expires_at: i64,
}

/// Second factors and recovery codes (A5, A6). Each use is a conditional update, so it
/// holds under concurrency and across nodes.
pub trait MfaStore {
    /// The user's factors, confirmed or not, oldest first.
    fn factors(&self, tenant_id: &str, user_id: &str) -> Result<Vec<crate::mfa::Factor>, StoreError>;
    /// Adds a TOTP factor waiting for its first code, replacing the user's other unconfirmed ones.
    fn add_pending_totp(&self, f: &crate::mfa::Factor) -> Result<(), StoreError>;
    /// Confirms a pending TOTP factor, named `name`, with the step of its first code; `false`
    /// when it is gone or confirmed already.
    fn confirm_totp(
        &self,
        tenant_id: &str,
        factor_id: &str,
        name: &str,
        step: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;
    /// RFC 6238 §5.2: accepts a confirmed TOTP factor's `step` if no later or equal step was
    /// accepted before (on any node).
    fn use_totp_step(&self, tenant_id: &str, factor_id: &str, step: i64, now: i64) -> Result<bool, StoreError>;
    /// Adds a registered passkey; `Conflict` when its credential id is registered already.
    fn add_passkey(&self, f: &crate::mfa::Factor, audit: &AuditEvent) -> Result<(), StoreError>;
    /// The passkey with this credential id in the tenant.
    fn passkey_by_credential(
        &self,
        tenant_id: &str,
        credential_id: &str,
    ) -> Result<Option<crate::mfa::Factor>, StoreError>;
    /// Records a passkey's use with its updated credential (counter, backup state).
    fn use_passkey(&self, tenant_id: &str, factor_id: &str, credential: &str, now: i64) -> Result<(), StoreError>;
    /// Removes one of the user's factors; `keep_one` refuses removing the last confirmed one
    /// (`Refused`). The last factor takes the recovery codes with it.
    fn remove_factor(
        &self,
        tenant_id: &str,
        user_id: &str,
        factor_id: &str,
        keep_one: bool,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Replaces the user's recovery codes (the old set stops working).
    fn replace_recovery_codes(
        &self,
        tenant_id: &str,
        user_id: &str,
        hashes: &[Vec<u8>],
        now: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Uses one unused recovery code, recording `audit`; how many remain, or `None` when the
    /// code is not an unused one of this user's.
    fn use_recovery_code(
        &self,
        tenant_id: &str,
        user_id: &str,
        hash: &[u8],
        now: i64,
        audit: &AuditEvent,
    ) -> Result<Option<i64>, StoreError>;
    /// How many unused recovery codes the user has.
    fn recovery_codes_left(&self, tenant_id: &str, user_id: &str) -> Result<i64, StoreError>;
    /// Removes every factor and recovery code of the user (an operator's reset); how many
    /// factors were removed.
    fn reset_mfa(&self, tenant_id: &str, user_id: &str, audit: &AuditEvent) -> Result<usize, StoreError>;
    fn save_ceremony(&self, c: &Ceremony) -> Result<(), StoreError>;
    /// Takes (and deletes) an unexpired ceremony: each is answered once.
    fn take_ceremony(&self, tenant_id: &str, id: &str, now: i64) -> Result<Option<Ceremony>, StoreError>;
}
