//! S6: whatever ends a session also reaches the clients that took part in it. Participants
//! are recorded when a code is issued and kept as long as the session; ending sessions queues
//! a back-channel logout notice per participant and revokes the refresh tokens issued in
//! them, in the transaction that ends them. Any server node delivers the notices.

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::store::{LogoutNotice, LogoutNoticeStore};

use crate::Store;
use crate::conn::{DbConnection, on_backend};
use crate::error::unavailable;
use crate::schema::{logout_notices as ln, refresh_tokens, session_clients as sc, sessions, tenants};

/// Records that `client_id` took part in session `sid` (once).
pub(crate) fn record_participant(
    conn: &mut DbConnection,
    tenant_id: &str,
    sid: &str,
    client_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let row = (sc::tenant_id.eq(tenant_id), sc::sid.eq(sid), sc::client_id.eq(client_id), sc::created_at.eq(now));
    on_backend!(conn, |c| diesel::insert_into(sc::table).values(row).on_conflict_do_nothing().execute(c))
        .map(|_| ())
        .map_err(unavailable)
}

/// The live sessions of a user, as `(sid, user_id)`, before they are ended with them.
pub(crate) fn open_sessions_of(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    sessions::table
        .filter(sessions::tenant_id.eq(tenant_id))
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::ended_at.is_null())
        .select((sessions::sid, sessions::user_id))
        .load(conn)
        .map_err(unavailable)
}

/// S6: for sessions that have just ended (`(sid, user_id)`), queues a logout notice for every
/// client that took part and revokes the refresh tokens issued in them; returns how many
/// refresh tokens were revoked.
pub(crate) fn after_sessions_end(
    conn: &mut DbConnection,
    tenant_id: &str,
    ended: &[(String, String)],
    now: i64,
) -> Result<usize, StoreError> {
    let mut revoked = 0;
    for (sid, user_id) in ended {
        let clients: Vec<String> = sc::table
            .filter(sc::tenant_id.eq(tenant_id))
            .filter(sc::sid.eq(sid))
            .select(sc::client_id)
            .load(conn)
            .map_err(unavailable)?;
        for client_id in clients {
            diesel::insert_into(ln::table)
                .values((
                    ln::id.eq(gatehouse_core::crypto::random_token()),
                    ln::tenant_id.eq(tenant_id),
                    ln::client_id.eq(&client_id),
                    ln::user_id.eq(user_id),
                    ln::sid.eq(sid),
                    ln::created_at.eq(now),
                    ln::attempts.eq(0),
                    ln::next_attempt_at.eq(now),
                ))
                .execute(conn)
                .map_err(unavailable)?;
        }
        revoked += diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::tenant_id.eq(tenant_id))
                .filter(refresh_tokens::sid.eq(sid))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(Some(now)))
        .execute(conn)
        .map_err(unavailable)?;
    }
    Ok(revoked)
}

/// D3: participants of sessions that are gone (purged or deleted with their user).
pub(crate) fn purge_participants(conn: &mut DbConnection) -> Result<usize, StoreError> {
    diesel::sql_query(
        "DELETE FROM session_clients WHERE NOT EXISTS (SELECT 1 FROM sessions \
         WHERE sessions.tenant_id = session_clients.tenant_id AND sessions.sid = session_clients.sid)",
    )
    .execute(conn)
    .map_err(unavailable)
}

type NoticeRow = (String, String, String, String, String, i32);

impl LogoutNoticeStore for Store {
    fn due_logout_notices(&self, now: i64, limit: i64) -> Result<Vec<LogoutNotice>, StoreError> {
        let mut conn = self.db.conn()?;
        let rows: Vec<NoticeRow> = ln::table
            .filter(ln::next_attempt_at.le(now))
            .order(ln::next_attempt_at.asc())
            .limit(limit)
            .select((ln::id, ln::tenant_id, ln::client_id, ln::user_id, ln::sid, ln::attempts))
            .load(&mut *conn)
            .map_err(unavailable)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, tenant_id, client_id, user_id, sid, attempts) in rows {
            let slug: Option<String> = tenants::table
                .filter(tenants::id.eq(&tenant_id))
                .select(tenants::slug)
                .first(&mut *conn)
                .optional()
                .map_err(unavailable)?;
            // A notice of a deleted tenant has no one left to tell; it is finished when seen.
            let tenant_slug = slug.unwrap_or_default();
            out.push(LogoutNotice { id, tenant_id, tenant_slug, client_id, user_id, sid, attempts });
        }
        Ok(out)
    }

    fn claim_logout_notice(&self, id: &str, now: i64, retry_at: i64) -> Result<bool, StoreError> {
        let claimed = self.db.write_tx(|conn| {
            diesel::update(ln::table.filter(ln::id.eq(id)).filter(ln::next_attempt_at.le(now)))
                .set((ln::next_attempt_at.eq(retry_at), ln::attempts.eq(ln::attempts + 1)))
                .execute(conn)
                .map_err(unavailable)
        })?;
        Ok(claimed == 1)
    }

    fn finish_logout_notice(&self, id: &str) -> Result<(), StoreError> {
        self.db
            .write_tx(|conn| diesel::delete(ln::table.filter(ln::id.eq(id))).execute(conn).map_err(unavailable))
            .map(|_| ())
    }
}
