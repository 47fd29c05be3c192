//! Failed sign-ins per account (A4). Counting runs in a write transaction (and, on PostgreSQL,
//! under a transaction lock), so concurrent wrong guesses are all counted.

use diesel::prelude::*;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::password::{LockoutPolicy, LockoutState};
use gatehouse_core::store::LockoutStore;
use gatehouse_core::{StoreError, UnixTime};

use crate::Store;
use crate::audit::append_in;
use crate::conn::{DbConnection, on_backend};
use crate::error::unavailable;
use crate::schema::account_lockouts as al;

/// Key of the PostgreSQL transaction lock that serialises failure counting.
const LOCKOUT_LOCK: i64 = 0x6761_7465_6c6f;

fn read(conn: &mut DbConnection, tenant_id: &str, user_id: &str) -> Result<Option<LockoutState>, StoreError> {
    on_backend!(conn, |c| al::table
        .filter(al::tenant_id.eq(tenant_id))
        .filter(al::user_id.eq(user_id))
        .select((al::failures, al::lockouts, al::locked_until))
        .first::<(i32, i32, Option<i64>)>(c)
        .optional())
    .map(|row| row.map(|(failures, lockouts, locked_until)| LockoutState { failures, lockouts, locked_until }))
    .map_err(unavailable)
}

fn write(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    exists: bool,
    s: LockoutState,
    now: UnixTime,
) -> Result<(), StoreError> {
    let values = (
        al::failures.eq(s.failures),
        al::lockouts.eq(s.lockouts),
        al::locked_until.eq(s.locked_until),
        al::updated_at.eq(now.0),
    );
    let done = if exists {
        on_backend!(conn, |c| diesel::update(
            al::table.filter(al::tenant_id.eq(tenant_id)).filter(al::user_id.eq(user_id))
        )
        .set(values)
        .execute(c))
    } else {
        on_backend!(conn, |c| diesel::insert_into(al::table)
            .values((al::tenant_id.eq(tenant_id), al::user_id.eq(user_id), values))
            .execute(c))
    };
    done.map(|_| ()).map_err(unavailable)
}

impl LockoutStore for Store {
    fn lockout(&self, tenant_id: &str, user_id: &str) -> Result<LockoutState, StoreError> {
        let mut conn = self.db.conn()?;
        Ok(read(&mut conn, tenant_id, user_id)?.unwrap_or_default())
    }

    fn record_failure(
        &self,
        tenant_id: &str,
        user_id: &str,
        policy: LockoutPolicy,
        now: UnixTime,
        on_lockout: &AuditEvent,
    ) -> Result<LockoutState, StoreError> {
        self.db.write_tx(|conn| {
            if let DbConnection::Pg(c) = conn {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({LOCKOUT_LOCK})"))
                    .execute(c)
                    .map_err(unavailable)?;
            }
            let current = read(conn, tenant_id, user_id)?;
            let (next, locked) = current.unwrap_or_default().after_failure(policy, now);
            write(conn, tenant_id, user_id, current.is_some(), next, now)?;
            if locked {
                append_in(conn, &self.vault, on_lockout)?;
            }
            Ok(next)
        })
    }

    fn clear_lockout(&self, tenant_id: &str, user_id: &str, audit: Option<&AuditEvent>) -> Result<bool, StoreError> {
        self.db.write_tx(|conn| {
            let removed = on_backend!(conn, |c| diesel::delete(
                al::table.filter(al::tenant_id.eq(tenant_id)).filter(al::user_id.eq(user_id))
            )
            .execute(c))
            .map_err(unavailable)?;
            if let (true, Some(event)) = (removed > 0, audit) {
                append_in(conn, &self.vault, event)?;
            }
            Ok(removed > 0)
        })
    }
}
