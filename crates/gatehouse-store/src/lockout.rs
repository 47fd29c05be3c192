//! Failed sign-ins per account (A4). Every change runs in a write transaction that, on
//! PostgreSQL, first takes a transaction lock for that one account (SQLite's write lock
//! already serialises them), so admissions and failures are counted exactly under concurrency
//! and across nodes.

use diesel::prelude::*;
use diesel::sql_types::Text;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::password::{LockoutPolicy, LockoutState};
use gatehouse_core::store::LockoutStore;
use gatehouse_core::{StoreError, UnixTime};

use crate::Store;
use crate::audit::append_in;
use crate::conn::{DbConnection, on_backend};
use crate::error::unavailable;
use crate::schema::account_lockouts as al;

/// PostgreSQL: serialises changes to one account's state until the transaction ends.
fn lock_account(conn: &mut DbConnection, tenant_id: &str, user_id: &str) -> Result<(), StoreError> {
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 4))")
            .bind::<Text, _>(format!("account_lockouts/{tenant_id}/{user_id}"))
            .execute(c)
            .map_err(unavailable)?;
    }
    Ok(())
}

fn read(conn: &mut DbConnection, tenant_id: &str, user_id: &str) -> Result<Option<LockoutState>, StoreError> {
    on_backend!(conn, |c| al::table
        .filter(al::tenant_id.eq(tenant_id))
        .filter(al::user_id.eq(user_id))
        .select((al::failures, al::lockouts, al::locked_until, al::in_flight, al::reserved_at))
        .first::<(i32, i32, Option<i64>, i32, Option<i64>)>(c)
        .optional())
    .map(|row| {
        row.map(|(failures, lockouts, locked_until, in_flight, reserved_at)| LockoutState {
            failures,
            lockouts,
            locked_until,
            in_flight,
            reserved_at,
        })
    })
    .map_err(unavailable)
}

/// Stores `s` for the account (`exists`: whether it has a row); a state with nothing left to
/// remember removes the row.
fn write(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    exists: bool,
    s: LockoutState,
    now: UnixTime,
) -> Result<(), StoreError> {
    let this = al::table.filter(al::tenant_id.eq(tenant_id)).filter(al::user_id.eq(user_id));
    if s == LockoutState::default() {
        return on_backend!(conn, |c| diesel::delete(this).execute(c)).map(|_| ()).map_err(unavailable);
    }
    let values = (
        al::failures.eq(s.failures),
        al::lockouts.eq(s.lockouts),
        al::locked_until.eq(s.locked_until),
        al::in_flight.eq(s.in_flight),
        al::reserved_at.eq(s.reserved_at),
        al::updated_at.eq(now.0),
    );
    let done = if exists {
        on_backend!(conn, |c| diesel::update(this).set(values).execute(c))
    } else {
        on_backend!(conn, |c| diesel::insert_into(al::table)
            .values((al::tenant_id.eq(tenant_id), al::user_id.eq(user_id), values))
            .execute(c))
    };
    done.map(|_| ()).map_err(unavailable)
}

impl Store {
    /// Runs `change` on the account's state in one locked write transaction and stores what
    /// it returns; `change` also says what to hand back.
    fn change_lockout<T>(
        &self,
        tenant_id: &str,
        user_id: &str,
        now: UnixTime,
        change: impl FnOnce(&mut DbConnection, LockoutState) -> Result<(LockoutState, T), StoreError>,
    ) -> Result<T, StoreError> {
        self.db.write_tx(|conn| {
            lock_account(conn, tenant_id, user_id)?;
            let current = read(conn, tenant_id, user_id)?;
            let (next, out) = change(conn, current.unwrap_or_default())?;
            if current != Some(next) {
                write(conn, tenant_id, user_id, current.is_some(), next, now)?;
            }
            Ok(out)
        })
    }
}

impl LockoutStore for Store {
    fn lockout(&self, tenant_id: &str, user_id: &str) -> Result<LockoutState, StoreError> {
        let mut conn = self.db.conn()?;
        Ok(read(&mut conn, tenant_id, user_id)?.unwrap_or_default())
    }

    fn admit_attempt(
        &self,
        tenant_id: &str,
        user_id: &str,
        policy: LockoutPolicy,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        self.change_lockout(tenant_id, user_id, now, |_, s| match s.admit(policy, now) {
            Some(next) => Ok((next, true)),
            None => Ok((s, false)),
        })
    }

    fn record_failure(
        &self,
        tenant_id: &str,
        user_id: &str,
        policy: LockoutPolicy,
        now: UnixTime,
        on_lockout: &AuditEvent,
    ) -> Result<LockoutState, StoreError> {
        self.change_lockout(tenant_id, user_id, now, |conn, s| {
            let (next, locked) = s.after_failure(policy, now);
            if locked {
                append_in(conn, &self.vault, on_lockout)?;
            }
            Ok((next, next))
        })
    }

    fn record_success(&self, tenant_id: &str, user_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        self.change_lockout(tenant_id, user_id, now, |_, s| match s.after_success(now) {
            Ok(next) => Ok((next, true)),
            Err(still_locked) => Ok((still_locked, false)),
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
