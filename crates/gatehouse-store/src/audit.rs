//! The audit chain (L3): appended inside the transaction of the change it records, so a change
//! and its record commit together or not at all.

use diesel::prelude::*;
use gatehouse_core::audit::{AuditAnchor, AuditEvent, AuditRecord};
use gatehouse_core::crypto::Vault;
use gatehouse_core::store::AuditStore;
use gatehouse_core::{StoreError, UnixTime};

use crate::Store;
use crate::conn::{DbConnection, on_backend};
use crate::error::unavailable;
use crate::schema::{audit_anchor, audit_log};

/// Key of the PostgreSQL transaction lock that serialises appends to the one chain.
const AUDIT_LOCK: i64 = 0x6761_7465_6175;

#[derive(Queryable, Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
pub(crate) struct Row {
    seq: i64,
    at: i64,
    tenant_id: Option<String>,
    actor: String,
    action: String,
    target: Option<String>,
    source_ip: Option<String>,
    outcome: String,
    details: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl From<Row> for AuditRecord {
    fn from(r: Row) -> Self {
        Self {
            seq: r.seq,
            at: r.at,
            tenant_id: r.tenant_id,
            actor: r.actor,
            action: r.action,
            target: r.target,
            source_ip: r.source_ip,
            outcome: r.outcome,
            details: r.details,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// Appends `event` after the current head, inside the caller's write transaction. On SQLite the
/// transaction already holds the write lock; on PostgreSQL a transaction-scoped advisory lock
/// keeps two appenders from forking the chain.
pub(crate) fn append_in(conn: &mut DbConnection, vault: &Vault, event: &AuditEvent) -> Result<i64, StoreError> {
    let head = lock_head(conn)?;
    insert_next(conn, vault, head, event).map(|(seq, _)| seq)
}

/// Takes the chain lock (PostgreSQL; SQLite's write transaction already holds it) and reads
/// the head record's sequence number and hash.
fn lock_head(conn: &mut DbConnection) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({AUDIT_LOCK})")).execute(c).map_err(unavailable)?;
    }
    // On the concrete connection: its prepared-statement cache then holds the query (see
    // `insert_next`).
    on_backend!(conn, |c| audit_log::table
        .select((audit_log::seq, audit_log::hash))
        .order(audit_log::seq.desc())
        .first(c)
        .optional())
    .map_err(unavailable)
}

/// Chains `event` after `head` and inserts it; returns the new head.
fn insert_next(
    conn: &mut DbConnection,
    vault: &Vault,
    head: Option<(i64, Vec<u8>)>,
    event: &AuditEvent,
) -> Result<(i64, Vec<u8>), StoreError> {
    let (new_head, row) = next_row(vault, head, event)?;
    // Run on the concrete connection: through the multi-backend wrapper diesel rebuilds and
    // re-prepares the statement for every row, which was most of the audit writer's CPU.
    on_backend!(conn, |c| diesel::insert_into(audit_log::table).values(&row).execute(c)).map_err(unavailable)?;
    Ok(new_head)
}

/// The row that chains `event` after `head`, and the new head.
fn next_row(
    vault: &Vault,
    head: Option<(i64, Vec<u8>)>,
    event: &AuditEvent,
) -> Result<((i64, Vec<u8>), Row), StoreError> {
    let r = AuditRecord::next(vault, head, UnixTime::now(), event).map_err(unavailable)?;
    tracing::info!(
        target: "audit",
        seq = r.seq,
        tenant = r.tenant_id.as_deref().unwrap_or("-"),
        actor = %r.actor,
        action = %r.action,
        target_ref = r.target.as_deref().unwrap_or("-"),
        outcome = %r.outcome,
        "audit"
    );
    let new_head = (r.seq, r.hash.clone());
    let row = Row {
        seq: r.seq,
        at: r.at,
        tenant_id: r.tenant_id,
        actor: r.actor,
        action: r.action,
        target: r.target,
        source_ip: r.source_ip,
        outcome: r.outcome,
        details: r.details,
        prev_hash: r.prev_hash,
        hash: r.hash,
    };
    Ok((new_head, row))
}

/// The append-only trigger of SQLite, as the migration created it.
/// The newest records of a tenant done by or to `user_id`, newest first (the user's own
/// security events, S8; never anyone else's).
pub(crate) fn records_of_user(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    limit: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    let who = format!("user:{user_id}");
    let rows: Vec<Row> = audit_log::table
        .filter(audit_log::tenant_id.eq(tenant_id))
        .filter(audit_log::actor.eq(&who).or(audit_log::target.eq(&who)))
        .order(audit_log::seq.desc())
        .limit(limit)
        .load(conn)
        .map_err(unavailable)?;
    Ok(rows.into_iter().map(AuditRecord::from).collect())
}

impl AuditStore for Store {
    fn append_audit(&self, event: &AuditEvent) -> Result<i64, StoreError> {
        let vault = self.vault.clone();
        self.db.write_tx(|conn| append_in(conn, &vault, event))
    }

    fn append_audit_batch(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let vault = self.vault.clone();
        self.db.write_tx(|conn| {
            // One single-row INSERT per record: its statement is prepared once and cached by
            // the connection, where a multi-row INSERT is compiled afresh for every batch size.
            let mut head = lock_head(conn)?;
            for event in events {
                head = Some(insert_next(conn, &vault, head.take(), event)?);
            }
            Ok(())
        })
    }

    fn audit_anchor(&self) -> Result<Option<AuditAnchor>, StoreError> {
        let mut conn = self.db.conn()?;
        let row: Option<(i64, Vec<u8>, Vec<u8>)> = on_backend!(&mut *conn, |c| audit_anchor::table
            .select((audit_anchor::seq, audit_anchor::hash, audit_anchor::mac))
            .first(c)
            .optional())
        .map_err(unavailable)?;
        Ok(row.map(|(seq, hash, mac)| AuditAnchor { seq, hash, mac }))
    }

    fn prune_audit(&self, before: i64, audit: &AuditEvent) -> Result<u64, StoreError> {
        let vault = self.vault.clone();
        self.db.write_tx(|conn| {
            let head = lock_head(conn)?;
            let Some((head_seq, _)) = head else { return Ok(0) };
            // The newest record always stays, so the chain keeps its head.
            let last: Option<(i64, Vec<u8>)> = on_backend!(&mut *conn, |c| audit_log::table
                .filter(audit_log::at.lt(before))
                .filter(audit_log::seq.lt(head_seq))
                .select((audit_log::seq, audit_log::hash))
                .order(audit_log::seq.desc())
                .first(c)
                .optional())
            .map_err(unavailable)?;
            let Some((through, hash)) = last else { return Ok(0) };
            let anchor = AuditAnchor::new(&vault, through, hash).map_err(unavailable)?;
            // The anchor first: the append-only guard lets a record go only once an anchor
            // (on PostgreSQL: one written in this transaction) covers it.
            on_backend!(&mut *conn, |c| diesel::delete(audit_anchor::table).execute(c)).map_err(unavailable)?;
            let row = (
                audit_anchor::id.eq(1),
                audit_anchor::seq.eq(anchor.seq),
                audit_anchor::hash.eq(&anchor.hash),
                audit_anchor::mac.eq(&anchor.mac),
                audit_anchor::pruned_at.eq(UnixTime::now().0),
            );
            on_backend!(&mut *conn, |c| diesel::insert_into(audit_anchor::table).values(row).execute(c))
                .map_err(unavailable)?;
            let pruned =
                on_backend!(&mut *conn, |c| diesel::delete(audit_log::table.filter(audit_log::seq.le(through)))
                    .execute(c))
                .map_err(unavailable)? as u64;
            insert_next(conn, &vault, head, audit)?;
            Ok(pruned)
        })
    }

    fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let mut conn = self.db.conn()?;
        let rows: Vec<Row> = audit_log::table
            .filter(audit_log::seq.gt(after))
            .order(audit_log::seq.asc())
            .limit(limit)
            .load(&mut *conn)
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }
}
