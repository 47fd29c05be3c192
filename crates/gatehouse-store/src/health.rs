//! L4: what readiness asks of the database.

use diesel::prelude::*;
use gatehouse_core::StoreError;

use crate::Store;
use crate::error::unavailable;
use crate::schema::write_probe;

impl Store {
    /// L4: a committed write transaction (one row updated), so readiness fails when the
    /// database answers reads but cannot take writes (read-only, full, locked).
    pub fn write_probe(&self, now: i64) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            diesel::update(write_probe::table.filter(write_probe::id.eq(1)))
                .set(write_probe::at.eq(now))
                .execute(conn)
                .map_err(unavailable)
        })?;
        Ok(())
    }
}
