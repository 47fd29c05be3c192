//! A user's own account (A2, A8, A9, S8, AC3): single-use links, passwords with history,
//! profile, sessions, consents, the user's audit trail, tenant policies. Every query is
//! scoped by tenant (AC1); every change is one transaction with its audit record (L3).

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::account::{TokenPurpose, UserToken};
use gatehouse_core::audit::{AuditEvent, AuditRecord};
use gatehouse_core::model::TenantPolicy;
use gatehouse_core::store::{AccountStore, Consent, NewPassword, SessionRecord, SessionsToEnd};

use crate::Store;
use crate::audit::{append_in, records_of_user};
use crate::conn::DbConnection;
use crate::error::{map_err, unavailable};
use crate::flow::{SESSION_COLUMNS, SessionRow, session_of};
use crate::schema::{
    account_lockouts, consents, password_history as ph, refresh_tokens, sessions, tenants, user_tokens as ut, users,
};
use crate::session_end;

type TokenRow = (Vec<u8>, String, String, String, String, i64, i64);

fn token_of(r: TokenRow, purpose: TokenPurpose) -> UserToken {
    let (token_hash, tenant_id, user_id, _, data, created_at, expires_at) = r;
    UserToken { token_hash, tenant_id, user_id, purpose, data, created_at, expires_at }
}

/// The unused, unexpired link, if any.
fn live_token(
    conn: &mut DbConnection,
    tenant_id: &str,
    token_hash: &[u8],
    purpose: TokenPurpose,
    now: i64,
) -> Result<Option<UserToken>, StoreError> {
    let row: Option<TokenRow> = ut::table
        .filter(ut::tenant_id.eq(tenant_id))
        .filter(ut::token_hash.eq(token_hash))
        .filter(ut::purpose.eq(purpose.as_str()))
        .filter(ut::used_at.is_null())
        .filter(ut::expires_at.gt(now))
        .select((ut::token_hash, ut::tenant_id, ut::user_id, ut::purpose, ut::data, ut::created_at, ut::expires_at))
        .first(conn)
        .optional()
        .map_err(unavailable)?;
    Ok(row.map(|r| token_of(r, purpose)))
}

/// Ends `which` sessions of the user (S6: clients told, the sessions' refresh tokens
/// revoked); returns (sessions ended, refresh tokens revoked).
pub(crate) fn end_user_sessions(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    which: SessionsToEnd<'_>,
    now: i64,
) -> Result<(usize, usize), StoreError> {
    let ending: Vec<(String, String)> = session_end::open_sessions_of(conn, tenant_id, user_id)?
        .into_iter()
        .filter(|(sid, _)| match which {
            SessionsToEnd::All => true,
            SessionsToEnd::AllBut(kept) => sid != kept,
            SessionsToEnd::One(only) => sid == only,
            SessionsToEnd::None => false,
        })
        .collect();
    for (sid, _) in &ending {
        diesel::update(
            sessions::table
                .filter(sessions::tenant_id.eq(tenant_id))
                .filter(sessions::sid.eq(sid))
                .filter(sessions::ended_at.is_null()),
        )
        .set(sessions::ended_at.eq(Some(now)))
        .execute(conn)
        .map_err(unavailable)?;
    }
    let revoked = session_end::after_sessions_end(conn, tenant_id, &ending, now)?;
    Ok((ending.len(), revoked))
}

/// A2: records `old` as the newest earlier password and keeps only the newest `keep`.
fn remember_password(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    old: &str,
    keep: u8,
    now: i64,
) -> Result<(), StoreError> {
    let mine = ph::table.filter(ph::tenant_id.eq(tenant_id)).filter(ph::user_id.eq(user_id));
    if keep > 0 {
        diesel::insert_into(ph::table)
            .values((ph::tenant_id.eq(tenant_id), ph::user_id.eq(user_id), ph::hash.eq(old), ph::created_at.eq(now)))
            .execute(conn)
            .map_err(unavailable)?;
    }
    let stale: Vec<String> =
        mine.order(ph::created_at.desc()).offset(i64::from(keep)).select(ph::hash).load(conn).map_err(unavailable)?;
    for hash in stale {
        diesel::delete(mine.filter(ph::hash.eq(hash))).execute(conn).map_err(unavailable)?;
    }
    Ok(())
}

impl AccountStore for Store {
    fn issue_user_token(
        &self,
        token: &UserToken,
        mail: Option<(&str, &[u8])>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            // A newer link voids the earlier ones of its purpose.
            diesel::update(
                ut::table
                    .filter(ut::tenant_id.eq(&token.tenant_id))
                    .filter(ut::user_id.eq(&token.user_id))
                    .filter(ut::purpose.eq(token.purpose.as_str()))
                    .filter(ut::used_at.is_null()),
            )
            .set(ut::used_at.eq(Some(token.created_at)))
            .execute(conn)
            .map_err(unavailable)?;
            diesel::insert_into(ut::table)
                .values((
                    ut::token_hash.eq(&token.token_hash),
                    ut::tenant_id.eq(&token.tenant_id),
                    ut::user_id.eq(&token.user_id),
                    ut::purpose.eq(token.purpose.as_str()),
                    ut::data.eq(&token.data),
                    ut::created_at.eq(token.created_at),
                    ut::expires_at.eq(token.expires_at),
                ))
                .execute(conn)
                .map_err(unavailable)?;
            if let Some((id, sealed)) = mail {
                crate::mail::queue_in(conn, id, Some(&token.tenant_id), sealed, token.created_at)?;
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn user_token(
        &self,
        tenant_id: &str,
        token_hash: &[u8],
        purpose: TokenPurpose,
        now: i64,
    ) -> Result<Option<UserToken>, StoreError> {
        live_token(&mut *self.db.conn()?, tenant_id, token_hash, purpose, now)
    }

    fn use_user_token(
        &self,
        tenant_id: &str,
        token_hash: &[u8],
        purpose: TokenPurpose,
        now: i64,
    ) -> Result<Option<UserToken>, StoreError> {
        self.db.write_tx(|conn| {
            let Some(token) = live_token(conn, tenant_id, token_hash, purpose, now)? else { return Ok(None) };
            let used = diesel::update(
                ut::table
                    .filter(ut::tenant_id.eq(tenant_id))
                    .filter(ut::token_hash.eq(token_hash))
                    .filter(ut::used_at.is_null()),
            )
            .set(ut::used_at.eq(Some(now)))
            .execute(conn)
            .map_err(unavailable)?;
            Ok((used == 1).then_some(token))
        })
    }

    fn tokens_issued_since(
        &self,
        tenant_id: &str,
        user_id: &str,
        purpose: TokenPurpose,
        since: i64,
    ) -> Result<i64, StoreError> {
        ut::table
            .filter(ut::tenant_id.eq(tenant_id))
            .filter(ut::user_id.eq(user_id))
            .filter(ut::purpose.eq(purpose.as_str()))
            .filter(ut::created_at.ge(since))
            .count()
            .get_result(&mut *self.db.conn()?)
            .map_err(unavailable)
    }

    fn password_history(&self, tenant_id: &str, user_id: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        ph::table
            .filter(ph::tenant_id.eq(tenant_id))
            .filter(ph::user_id.eq(user_id))
            .order(ph::created_at.desc())
            .limit(limit as i64)
            .select(ph::hash)
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)
    }

    fn set_password(&self, c: &NewPassword<'_>, audit: &AuditEvent) -> Result<(usize, usize), StoreError> {
        self.db.write_tx(|conn| {
            let this = users::table.filter(users::tenant_id.eq(c.tenant_id)).filter(users::id.eq(c.user_id));
            let old: Option<Option<String>> =
                this.select(users::password_hash).first(conn).optional().map_err(unavailable)?;
            let Some(old) = old else { return Err(StoreError::NotFound("unknown user")) };
            diesel::update(this)
                .set((
                    users::password_hash.eq(Some(c.hash)),
                    users::must_change_password.eq(c.must_change),
                    users::password_changed_at.eq(Some(c.now)),
                ))
                .execute(conn)
                .map_err(unavailable)?;
            // A4: failed sign-ins before a new password no longer count against the account.
            diesel::delete(
                account_lockouts::table
                    .filter(account_lockouts::tenant_id.eq(c.tenant_id))
                    .filter(account_lockouts::user_id.eq(c.user_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            if let Some(old) = old {
                remember_password(conn, c.tenant_id, c.user_id, &old, c.keep_history, c.now)?;
            }
            let (ended, mut revoked) = end_user_sessions(conn, c.tenant_id, c.user_id, c.end, c.now)?;
            // A9: the user's other refresh tokens go too; those of the kept session stay.
            let theirs = refresh_tokens::table
                .filter(refresh_tokens::tenant_id.eq(c.tenant_id))
                .filter(refresh_tokens::user_id.eq(c.user_id))
                .filter(refresh_tokens::revoked_at.is_null());
            revoked += match c.end {
                SessionsToEnd::All => {
                    diesel::update(theirs).set(refresh_tokens::revoked_at.eq(Some(c.now))).execute(conn)
                }
                SessionsToEnd::AllBut(kept) => diesel::update(theirs.filter(refresh_tokens::sid.ne(kept)))
                    .set(refresh_tokens::revoked_at.eq(Some(c.now)))
                    .execute(conn),
                SessionsToEnd::One(_) | SessionsToEnd::None => Ok(0),
            }
            .map_err(unavailable)?;
            append_in(conn, &self.vault, audit)?;
            Ok((ended, revoked))
        })
    }

    fn set_display_name(
        &self,
        tenant_id: &str,
        user_id: &str,
        name: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            let n = diesel::update(users::table.filter(users::tenant_id.eq(tenant_id)).filter(users::id.eq(user_id)))
                .set(users::display_name.eq(name))
                .execute(conn)
                .map_err(unavailable)?;
            if n == 0 {
                return Err(StoreError::NotFound("unknown user"));
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn set_email(&self, tenant_id: &str, user_id: &str, email: &str, audit: &AuditEvent) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            let n = diesel::update(users::table.filter(users::tenant_id.eq(tenant_id)).filter(users::id.eq(user_id)))
                .set((users::email.eq(email), users::email_verified.eq(true)))
                .execute(conn)
                .map_err(map_err("a user with this email already exists in the tenant"))?;
            if n == 0 {
                return Err(StoreError::NotFound("unknown user"));
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn sessions_of(&self, tenant_id: &str, user_id: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow> = sessions::table
            .filter(sessions::tenant_id.eq(tenant_id))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .order(sessions::last_seen_at.desc())
            .select(SESSION_COLUMNS)
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(session_of).collect())
    }

    fn end_sessions(
        &self,
        tenant_id: &str,
        user_id: &str,
        which: SessionsToEnd<'_>,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<usize, StoreError> {
        self.db.write_tx(|conn| {
            let (ended, _) = end_user_sessions(conn, tenant_id, user_id, which, now)?;
            if ended > 0 {
                append_in(conn, &self.vault, audit)?;
            }
            Ok(ended)
        })
    }

    fn consents_of(&self, tenant_id: &str, user_id: &str) -> Result<Vec<Consent>, StoreError> {
        let rows: Vec<(String, String, i64)> = consents::table
            .filter(consents::tenant_id.eq(tenant_id))
            .filter(consents::user_id.eq(user_id))
            .order(consents::granted_at.desc())
            .select((consents::client_id, consents::scope, consents::granted_at))
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(|(client_id, scope, granted_at)| Consent { client_id, scope, granted_at }).collect())
    }

    fn revoke_consent(
        &self,
        tenant_id: &str,
        user_id: &str,
        client_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.db.write_tx(|conn| {
            let removed = diesel::delete(
                consents::table
                    .filter(consents::tenant_id.eq(tenant_id))
                    .filter(consents::user_id.eq(user_id))
                    .filter(consents::client_id.eq(client_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            if removed == 0 {
                return Ok(false);
            }
            diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::tenant_id.eq(tenant_id))
                    .filter(refresh_tokens::user_id.eq(user_id))
                    .filter(refresh_tokens::client_id.eq(client_id))
                    .filter(refresh_tokens::revoked_at.is_null()),
            )
            .set(refresh_tokens::revoked_at.eq(Some(now)))
            .execute(conn)
            .map_err(unavailable)?;
            append_in(conn, &self.vault, audit)?;
            Ok(true)
        })
    }

    fn audit_of_user(&self, tenant_id: &str, user_id: &str, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        records_of_user(&mut *self.db.conn()?, tenant_id, user_id, limit)
    }

    fn set_tenant_policy(
        &self,
        tenant_id: &str,
        before: &TenantPolicy,
        policy: &TenantPolicy,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(policy).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.db.write_tx(|conn| {
            let stored: Option<String> = tenants::table
                .filter(tenants::id.eq(tenant_id))
                .select(tenants::settings)
                .first(conn)
                .optional()
                .map_err(unavailable)?;
            let Some(stored) = stored else { return Err(StoreError::NotFound("unknown tenant")) };
            if serde_json::from_str::<TenantPolicy>(&stored).unwrap_or_default() != *before {
                return Err(StoreError::Conflict("the tenant's policies changed meanwhile"));
            }
            // Conditional on the text read: a concurrent change in between makes this miss.
            let n =
                diesel::update(tenants::table.filter(tenants::id.eq(tenant_id)).filter(tenants::settings.eq(&stored)))
                    .set(tenants::settings.eq(&json))
                    .execute(conn)
                    .map_err(unavailable)?;
            if n == 0 {
                return Err(StoreError::Conflict("the tenant's policies changed meanwhile"));
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }
}
