//! Wrapped data-encryption keys (D1): created on first start, unwrapped by the master key.

use diesel::prelude::*;
use gatehouse_core::crypto::{MasterKey, Vault, WrappedKey};
use gatehouse_core::{StoreError, UnixTime};

use crate::OpenError;
use crate::conn::Database;
use crate::error::{map_err, unavailable};
use crate::schema::data_keys;

#[derive(Queryable, Insertable)]
#[diesel(table_name = data_keys)]
struct Row {
    kind: String,
    version: i32,
    wrapped: Vec<u8>,
    created_at: i64,
}

fn load(db: &Database) -> Result<Vec<WrappedKey>, StoreError> {
    let rows: Vec<Row> = data_keys::table.load(&mut *db.conn()?).map_err(unavailable)?;
    Ok(rows.into_iter().map(|r| WrappedKey { kind: r.kind, version: r.version, wrapped: r.wrapped }).collect())
}

fn insert(db: &Database, key: &WrappedKey) -> Result<(), StoreError> {
    let row = Row {
        kind: key.kind.clone(),
        version: key.version,
        wrapped: key.wrapped.clone(),
        created_at: UnixTime::now().0,
    };
    diesel::insert_into(data_keys::table)
        .values(&row)
        .execute(&mut *db.conn()?)
        .map(|_| ())
        .map_err(map_err("data key already exists"))
}

/// Creates the DEKs of kinds not stored yet, then unwraps all. Two processes starting at once
/// may race to create a kind: the loser's insert conflicts and it uses the winner's key.
pub(crate) fn unlock_vault(db: &Database, master: &MasterKey) -> Result<Vault, OpenError> {
    let stored = load(db)?;
    // Check the master key against existing keys before adding any under it.
    Vault::unlock(master, &stored)?;
    for kind in Vault::missing_kinds(&stored) {
        match insert(db, &master.new_data_key(kind, 1)?) {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Vault::unlock(master, &load(db)?)?)
}

impl crate::Store {
    /// D1: re-wraps every DEK from `current` to `new` in one transaction, with its audit
    /// record; the secrets they encrypt are untouched. Afterwards only `new` opens the vault.
    pub fn rotate_master_key(
        &self,
        current: &MasterKey,
        new: &MasterKey,
        audit: &gatehouse_core::audit::AuditEvent,
    ) -> Result<usize, StoreError> {
        self.db.write_tx(|conn| {
            let rows: Vec<Row> = data_keys::table.load(conn).map_err(unavailable)?;
            for row in &rows {
                let stored = WrappedKey { kind: row.kind.clone(), version: row.version, wrapped: row.wrapped.clone() };
                let rewrapped = current.rewrap(&stored, new).map_err(unavailable)?;
                diesel::update(
                    data_keys::table.filter(data_keys::kind.eq(&row.kind)).filter(data_keys::version.eq(row.version)),
                )
                .set(data_keys::wrapped.eq(&rewrapped.wrapped))
                .execute(conn)
                .map_err(unavailable)?;
            }
            crate::audit::append_in(conn, &self.vault, audit)?;
            Ok(rows.len())
        })
    }
}
