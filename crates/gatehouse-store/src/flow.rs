//! Sessions, pending authorization requests, codes, refresh tokens and consents (S1, O2, O3,
//! O6). Single use is enforced by conditional updates, so it holds under concurrency and
//! across nodes. Every query is scoped by tenant (AC1).

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::store::{CodeRecord, CodeUse, FlowStore, PendingRequest, RefreshRecord, RefreshUse, SessionRecord};

use crate::Store;
use crate::audit::append_in;
use crate::conn::{DbConnection, on_backend};
use crate::error::unavailable;
use crate::schema::{auth_codes, auth_requests, consents, refresh_tokens, revoked_tokens, session_clients, sessions};
use crate::session_end;

pub(crate) type SessionRow =
    (String, String, String, i64, String, String, i64, i64, i64, Option<Vec<u8>>, Option<String>, Option<String>);

pub(crate) fn session_of(r: SessionRow) -> SessionRecord {
    let (
        sid,
        tenant_id,
        user_id,
        auth_time,
        amr,
        acr,
        created_at,
        last_seen_at,
        expires_at,
        user_agent_hash,
        client_ip,
        user_agent,
    ) = r;
    SessionRecord {
        sid,
        tenant_id,
        user_id,
        auth_time,
        amr,
        acr,
        created_at,
        last_seen_at,
        expires_at,
        user_agent_hash,
        client_ip,
        user_agent,
    }
}

pub(crate) const SESSION_COLUMNS: (
    sessions::sid,
    sessions::tenant_id,
    sessions::user_id,
    sessions::auth_time,
    sessions::amr,
    sessions::acr,
    sessions::created_at,
    sessions::last_seen_at,
    sessions::expires_at,
    sessions::user_agent_hash,
    sessions::client_ip,
    sessions::user_agent,
) = (
    sessions::sid,
    sessions::tenant_id,
    sessions::user_id,
    sessions::auth_time,
    sessions::amr,
    sessions::acr,
    sessions::created_at,
    sessions::last_seen_at,
    sessions::expires_at,
    sessions::user_agent_hash,
    sessions::client_ip,
    sessions::user_agent,
);

#[derive(Queryable, Insertable)]
#[diesel(table_name = auth_codes)]
struct CodeRow {
    code_hash: Vec<u8>,
    tenant_id: String,
    client_id: String,
    user_id: String,
    sid: String,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: String,
    auth_time: i64,
    amr: String,
    acr: String,
    expires_at: i64,
    consumed_at: Option<i64>,
    family_id: Option<String>,
    access_jti: Option<String>,
}

#[derive(Queryable, Insertable)]
#[diesel(table_name = refresh_tokens)]
struct RefreshRow {
    token_hash: Vec<u8>,
    tenant_id: String,
    client_id: String,
    user_id: String,
    family_id: String,
    sid: String,
    scope: String,
    auth_time: i64,
    amr: String,
    acr: String,
    access_jti: String,
    created_at: i64,
    expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl RefreshRow {
    fn new(r: &RefreshRecord) -> Self {
        Self {
            token_hash: r.token_hash.clone(),
            tenant_id: r.tenant_id.clone(),
            client_id: r.client_id.clone(),
            user_id: r.user_id.clone(),
            family_id: r.family_id.clone(),
            sid: r.sid.clone(),
            scope: r.scope.clone(),
            auth_time: r.auth_time,
            amr: r.amr.clone(),
            acr: r.acr.clone(),
            access_jti: r.access_jti.clone(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            rotated_at: None,
            revoked_at: None,
        }
    }

    fn record(self) -> RefreshRecord {
        RefreshRecord {
            token_hash: self.token_hash,
            tenant_id: self.tenant_id,
            client_id: self.client_id,
            user_id: self.user_id,
            family_id: self.family_id,
            sid: self.sid,
            scope: self.scope,
            auth_time: self.auth_time,
            amr: self.amr,
            acr: self.acr,
            access_jti: self.access_jti,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

fn refresh_row(conn: &mut DbConnection, tenant_id: &str, hash: &[u8]) -> Result<Option<RefreshRow>, StoreError> {
    refresh_tokens::table
        .filter(refresh_tokens::tenant_id.eq(tenant_id))
        .filter(refresh_tokens::token_hash.eq(hash))
        .first(conn)
        .optional()
        .map_err(unavailable)
}

/// Revokes a family inside the caller's transaction: its refresh tokens, and the access
/// tokens issued with them (by jti, until they expire).
fn revoke_family_in(conn: &mut DbConnection, tenant_id: &str, family_id: &str, now: i64) -> Result<(), StoreError> {
    let members: Vec<(String, String, i64)> = refresh_tokens::table
        .filter(refresh_tokens::tenant_id.eq(tenant_id))
        .filter(refresh_tokens::family_id.eq(family_id))
        .select((refresh_tokens::access_jti, refresh_tokens::client_id, refresh_tokens::expires_at))
        .load(conn)
        .map_err(unavailable)?;
    diesel::update(refresh_tokens::table)
        .filter(refresh_tokens::tenant_id.eq(tenant_id))
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .set(refresh_tokens::revoked_at.eq(Some(now)))
        .execute(conn)
        .map_err(unavailable)?;
    for (jti, client_id, expires_at) in members {
        revoke_jti_in(conn, tenant_id, &jti, &client_id, expires_at)?;
    }
    Ok(())
}

fn revoke_jti_in(
    conn: &mut DbConnection,
    tenant_id: &str,
    jti: &str,
    client_id: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    let row = (
        revoked_tokens::tenant_id.eq(tenant_id),
        revoked_tokens::jti.eq(jti),
        revoked_tokens::client_id.eq(client_id),
        revoked_tokens::expires_at.eq(expires_at),
    );
    on_backend!(&mut *conn, |c| diesel::insert_into(revoked_tokens::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))
    .map(|_| ())
    .map_err(unavailable)
}

impl FlowStore for Store {
    fn create_session(&self, id_hash: &[u8], s: &SessionRecord, audit: &AuditEvent) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id_hash.eq(id_hash),
                    sessions::tenant_id.eq(&s.tenant_id),
                    sessions::user_id.eq(&s.user_id),
                    sessions::sid.eq(&s.sid),
                    sessions::auth_time.eq(s.auth_time),
                    sessions::amr.eq(&s.amr),
                    sessions::acr.eq(&s.acr),
                    sessions::created_at.eq(s.created_at),
                    sessions::last_seen_at.eq(s.last_seen_at),
                    sessions::expires_at.eq(s.expires_at),
                    sessions::user_agent_hash.eq(&s.user_agent_hash),
                    sessions::client_ip.eq(&s.client_ip),
                    sessions::user_agent.eq(&s.user_agent),
                ))
                .execute(conn)
                .map_err(unavailable)?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn session(&self, tenant_id: &str, id_hash: &[u8], now: i64) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<SessionRow> = sessions::table
            .filter(sessions::tenant_id.eq(tenant_id))
            .filter(sessions::id_hash.eq(id_hash))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .select(SESSION_COLUMNS)
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)?;
        Ok(row.map(session_of))
    }

    fn renew_session(
        &self,
        tenant_id: &str,
        old_hash: &[u8],
        new_hash: &[u8],
        s: &SessionRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.db.write_tx(|conn| {
            let renewed = diesel::update(sessions::table)
                .filter(sessions::tenant_id.eq(tenant_id))
                .filter(sessions::id_hash.eq(old_hash))
                .filter(sessions::user_id.eq(&s.user_id))
                .filter(sessions::ended_at.is_null())
                .set((
                    sessions::id_hash.eq(new_hash),
                    sessions::auth_time.eq(s.auth_time),
                    sessions::amr.eq(&s.amr),
                    sessions::acr.eq(&s.acr),
                    sessions::last_seen_at.eq(s.last_seen_at),
                    sessions::user_agent_hash.eq(&s.user_agent_hash),
                    sessions::client_ip.eq(&s.client_ip),
                    sessions::user_agent.eq(&s.user_agent),
                ))
                .execute(conn)
                .map_err(unavailable)?;
            if renewed == 1 {
                append_in(conn, &self.vault, audit)?;
            }
            Ok(renewed == 1)
        })
    }

    fn touch_session(&self, tenant_id: &str, id_hash: &[u8], now: i64) -> Result<(), StoreError> {
        diesel::update(sessions::table)
            .filter(sessions::tenant_id.eq(tenant_id))
            .filter(sessions::id_hash.eq(id_hash))
            .set(sessions::last_seen_at.eq(now))
            .execute(&mut *self.db.conn()?)
            .map(|_| ())
            .map_err(unavailable)
    }

    fn end_session(
        &self,
        tenant_id: &str,
        id_hash: &[u8],
        now: i64,
        audit: &AuditEvent,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.db.write_tx(|conn| {
            let row: Option<SessionRow> = sessions::table
                .filter(sessions::tenant_id.eq(tenant_id))
                .filter(sessions::id_hash.eq(id_hash))
                .filter(sessions::ended_at.is_null())
                .select(SESSION_COLUMNS)
                .first(conn)
                .optional()
                .map_err(unavailable)?;
            let Some(row) = row else { return Ok(None) };
            diesel::update(sessions::table)
                .filter(sessions::tenant_id.eq(tenant_id))
                .filter(sessions::id_hash.eq(id_hash))
                .set(sessions::ended_at.eq(Some(now)))
                .execute(conn)
                .map_err(unavailable)?;
            let session = session_of(row);
            session_end::after_sessions_end(conn, tenant_id, &[(session.sid.clone(), session.user_id.clone())], now)?;
            append_in(conn, &self.vault, audit)?;
            Ok(Some(session))
        })
    }

    fn save_request(&self, r: &PendingRequest) -> Result<(), StoreError> {
        diesel::insert_into(auth_requests::table)
            .values((
                auth_requests::id.eq(&r.id),
                auth_requests::tenant_id.eq(&r.tenant_id),
                auth_requests::client_id.eq(&r.client_id),
                auth_requests::params.eq(&r.params),
                auth_requests::binding_hash.eq(&r.binding_hash),
                auth_requests::csrf_hash.eq(&r.csrf_hash),
                auth_requests::created_at.eq(r.created_at),
                auth_requests::expires_at.eq(r.expires_at),
            ))
            .execute(&mut *self.db.conn()?)
            .map(|_| ())
            .map_err(unavailable)
    }

    fn pending_request(&self, tenant_id: &str, id: &str, now: i64) -> Result<Option<PendingRequest>, StoreError> {
        type Row = (String, String, String, String, Vec<u8>, Vec<u8>, i64, i64);
        let row: Option<Row> = auth_requests::table
            .filter(auth_requests::tenant_id.eq(tenant_id))
            .filter(auth_requests::id.eq(id))
            .filter(auth_requests::expires_at.gt(now))
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)?;
        Ok(row.map(|(id, tenant_id, client_id, params, binding_hash, csrf_hash, created_at, expires_at)| {
            PendingRequest { id, tenant_id, client_id, params, binding_hash, csrf_hash, created_at, expires_at }
        }))
    }

    fn delete_request(&self, tenant_id: &str, id: &str) -> Result<(), StoreError> {
        diesel::delete(
            auth_requests::table.filter(auth_requests::tenant_id.eq(tenant_id)).filter(auth_requests::id.eq(id)),
        )
        .execute(&mut *self.db.conn()?)
        .map(|_| ())
        .map_err(unavailable)
    }

    fn take_request(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
        diesel::delete(
            auth_requests::table.filter(auth_requests::tenant_id.eq(tenant_id)).filter(auth_requests::id.eq(id)),
        )
        .execute(&mut *self.db.conn()?)
        .map(|n| n > 0)
        .map_err(unavailable)
    }

    fn update_request(&self, tenant_id: &str, id: &str, params: &str) -> Result<(), StoreError> {
        diesel::update(
            auth_requests::table.filter(auth_requests::tenant_id.eq(tenant_id)).filter(auth_requests::id.eq(id)),
        )
        .set(auth_requests::params.eq(params))
        .execute(&mut *self.db.conn()?)
        .map(|_| ())
        .map_err(unavailable)
    }

    fn save_code(&self, c: &CodeRecord, audit: &AuditEvent) -> Result<(), StoreError> {
        let row = CodeRow {
            code_hash: c.code_hash.clone(),
            tenant_id: c.tenant_id.clone(),
            client_id: c.client_id.clone(),
            user_id: c.user_id.clone(),
            sid: c.sid.clone(),
            redirect_uri: c.redirect_uri.clone(),
            scope: c.scope.clone(),
            nonce: c.nonce.clone(),
            code_challenge: c.code_challenge.clone(),
            auth_time: c.auth_time,
            amr: c.amr.clone(),
            acr: c.acr.clone(),
            expires_at: c.expires_at,
            consumed_at: None,
            family_id: None,
            access_jti: None,
        };
        self.db.write_tx(|conn| {
            diesel::insert_into(auth_codes::table).values(&row).execute(conn).map_err(unavailable)?;
            // S6: the client takes part in the session from now on.
            session_end::record_participant(conn, &c.tenant_id, &c.sid, &c.client_id, c.expires_at)?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn consume_code(
        &self,
        tenant_id: &str,
        code_hash: &[u8],
        now: i64,
        family_id: &str,
        access_jti: &str,
    ) -> Result<CodeUse, StoreError> {
        self.db.write_tx(|conn| {
            let won = diesel::update(auth_codes::table)
                .filter(auth_codes::tenant_id.eq(tenant_id))
                .filter(auth_codes::code_hash.eq(code_hash))
                .filter(auth_codes::consumed_at.is_null())
                .filter(auth_codes::expires_at.gt(now))
                .set((
                    auth_codes::consumed_at.eq(Some(now)),
                    auth_codes::family_id.eq(Some(family_id)),
                    auth_codes::access_jti.eq(Some(access_jti)),
                ))
                .execute(conn)
                .map_err(unavailable)?;
            let row: Option<CodeRow> = auth_codes::table
                .filter(auth_codes::tenant_id.eq(tenant_id))
                .filter(auth_codes::code_hash.eq(code_hash))
                .first(conn)
                .optional()
                .map_err(unavailable)?;
            Ok(match (won, row) {
                (1, Some(r)) => CodeUse::Fresh(Box::new(CodeRecord {
                    code_hash: r.code_hash,
                    tenant_id: r.tenant_id,
                    client_id: r.client_id,
                    user_id: r.user_id,
                    sid: r.sid,
                    redirect_uri: r.redirect_uri,
                    scope: r.scope,
                    nonce: r.nonce,
                    code_challenge: r.code_challenge,
                    auth_time: r.auth_time,
                    amr: r.amr,
                    acr: r.acr,
                    expires_at: r.expires_at,
                })),
                (_, Some(r)) if r.consumed_at.is_some() => {
                    CodeUse::Replayed { client_id: r.client_id, family_id: r.family_id, access_jti: r.access_jti }
                }
                _ => CodeUse::Invalid,
            })
        })
    }

    fn save_refresh(&self, r: &RefreshRecord, audit: &AuditEvent) -> Result<(), StoreError> {
        let row = RefreshRow::new(r);
        self.db.write_tx(|conn| {
            diesel::insert_into(refresh_tokens::table).values(&row).execute(conn).map_err(unavailable)?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn rotate_refresh(
        &self,
        tenant_id: &str,
        token_hash: &[u8],
        client_id: &str,
        now: i64,
        next: &dyn Fn(&RefreshRecord) -> (RefreshRecord, AuditEvent),
    ) -> Result<RefreshUse, StoreError> {
        self.db.write_tx(|conn| {
            let won = diesel::update(refresh_tokens::table)
                .filter(refresh_tokens::tenant_id.eq(tenant_id))
                .filter(refresh_tokens::token_hash.eq(token_hash))
                .filter(refresh_tokens::client_id.eq(client_id))
                .filter(refresh_tokens::rotated_at.is_null())
                .filter(refresh_tokens::revoked_at.is_null())
                .filter(refresh_tokens::expires_at.gt(now))
                .set(refresh_tokens::rotated_at.eq(Some(now)))
                .execute(conn)
                .map_err(unavailable)?;
            let Some(old) = refresh_row(conn, tenant_id, token_hash)? else { return Ok(RefreshUse::Invalid) };
            if old.client_id != client_id {
                // Another client's token: neither used nor revealed.
                return Ok(RefreshUse::Invalid);
            }
            if won == 1 {
                let old = old.record();
                let (next, audit) = next(&old);
                diesel::insert_into(refresh_tokens::table)
                    .values(&RefreshRow::new(&next))
                    .execute(conn)
                    .map_err(unavailable)?;
                append_in(conn, &self.vault, &audit)?;
                return Ok(RefreshUse::Rotated(Box::new(old)));
            }
            if old.rotated_at.is_some() || old.revoked_at.is_some() {
                return Ok(RefreshUse::Reused { client_id: old.client_id, family_id: old.family_id });
            }
            Ok(RefreshUse::Invalid)
        })
    }

    fn revoke_family(&self, tenant_id: &str, family_id: &str, now: i64, audit: &AuditEvent) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            revoke_family_in(conn, tenant_id, family_id, now)?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn refresh_by_hash(&self, tenant_id: &str, token_hash: &[u8]) -> Result<Option<RefreshRecord>, StoreError> {
        let mut conn = self.db.conn()?;
        Ok(refresh_row(&mut conn, tenant_id, token_hash)?
            .filter(|r| r.revoked_at.is_none() && r.rotated_at.is_none())
            .map(RefreshRow::record))
    }

    fn session_clients(&self, tenant_id: &str, sid: &str) -> Result<Vec<String>, StoreError> {
        session_clients::table
            .filter(session_clients::tenant_id.eq(tenant_id))
            .filter(session_clients::sid.eq(sid))
            .select(session_clients::client_id)
            .order(session_clients::client_id.asc())
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)
    }

    fn consent(&self, tenant_id: &str, user_id: &str, client_id: &str) -> Result<Option<String>, StoreError> {
        consents::table
            .filter(consents::tenant_id.eq(tenant_id))
            .filter(consents::user_id.eq(user_id))
            .filter(consents::client_id.eq(client_id))
            .select(consents::scope)
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)
    }

    fn save_consent(
        &self,
        tenant_id: &str,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            diesel::delete(
                consents::table
                    .filter(consents::tenant_id.eq(tenant_id))
                    .filter(consents::user_id.eq(user_id))
                    .filter(consents::client_id.eq(client_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            diesel::insert_into(consents::table)
                .values((
                    consents::tenant_id.eq(tenant_id),
                    consents::user_id.eq(user_id),
                    consents::client_id.eq(client_id),
                    consents::scope.eq(scope),
                    consents::granted_at.eq(now),
                ))
                .execute(conn)
                .map_err(unavailable)?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }
}
