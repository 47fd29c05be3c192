//! The mail outbox: sealed messages queued with the change that sends them, claimed by one
//! worker at a time (a conditional update, so several nodes can share it).

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::mail::QueuedMail;
use gatehouse_core::store::MailStore;

use crate::Store;
use crate::conn::DbConnection;
use crate::error::unavailable;
use crate::schema::mail_outbox as mo;

/// Queues a sealed message inside the caller's transaction.
pub(crate) fn queue_in(
    conn: &mut DbConnection,
    id: &str,
    tenant_id: Option<&str>,
    sealed: &[u8],
    now: i64,
) -> Result<(), StoreError> {
    diesel::insert_into(mo::table)
        .values((
            mo::id.eq(id),
            mo::tenant_id.eq(tenant_id),
            mo::sealed.eq(sealed),
            mo::created_at.eq(now),
            mo::attempts.eq(0),
            mo::next_attempt_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
        .map_err(unavailable)
}

impl MailStore for Store {
    fn queue_mail(&self, id: &str, tenant_id: Option<&str>, sealed: &[u8], now: i64) -> Result<(), StoreError> {
        self.db.write_tx(|conn| queue_in(conn, id, tenant_id, sealed, now))
    }

    fn due_mail(&self, now: i64, limit: i64) -> Result<Vec<QueuedMail>, StoreError> {
        let rows: Vec<(String, Vec<u8>, i32)> = mo::table
            .filter(mo::next_attempt_at.le(now))
            .order(mo::next_attempt_at.asc())
            .limit(limit)
            .select((mo::id, mo::sealed, mo::attempts))
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(|(id, sealed, attempts)| QueuedMail { id, sealed, attempts }).collect())
    }

    fn claim_mail(&self, id: &str, now: i64, retry_at: i64) -> Result<bool, StoreError> {
        let claimed = self.db.write_tx(|conn| {
            diesel::update(mo::table.filter(mo::id.eq(id)).filter(mo::next_attempt_at.le(now)))
                .set((mo::next_attempt_at.eq(retry_at), mo::attempts.eq(mo::attempts + 1)))
                .execute(conn)
                .map_err(unavailable)
        })?;
        Ok(claimed == 1)
    }

    fn finish_mail(&self, id: &str) -> Result<(), StoreError> {
        self.db.write_tx(|conn| diesel::delete(mo::table.filter(mo::id.eq(id))).execute(conn).map_err(unavailable))?;
        Ok(())
    }
}
