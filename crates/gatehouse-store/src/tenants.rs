//! Tenants (AC1).

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::model::Tenant;
use gatehouse_core::store::TenantStore;

use crate::Store;
use crate::audit::append_in;
use crate::error::{map_err, unavailable};
use crate::schema::tenants;

#[derive(Queryable, Insertable)]
#[diesel(table_name = tenants)]
struct Row {
    id: String,
    slug: String,
    display_name: String,
    is_platform: bool,
    created_at: i64,
    bind_sessions: bool,
    settings: String,
}

impl From<Row> for Tenant {
    fn from(r: Row) -> Self {
        // Fields missing from the JSON take their defaults; unreadable JSON (never written by
        // Gatehouse) gives the defaults too, which are the safe ones (everything off).
        let policy = serde_json::from_str(&r.settings).unwrap_or_default();
        Self {
            id: r.id,
            slug: r.slug,
            display_name: r.display_name,
            is_platform: r.is_platform,
            created_at: r.created_at,
            bind_sessions: r.bind_sessions,
            policy,
        }
    }
}

impl TenantStore for Store {
    fn create_tenant(&self, t: &Tenant, audit: &AuditEvent) -> Result<(), StoreError> {
        let row = Row {
            id: t.id.clone(),
            slug: t.slug.clone(),
            display_name: t.display_name.clone(),
            is_platform: t.is_platform,
            created_at: t.created_at,
            bind_sessions: t.bind_sessions,
            settings: serde_json::to_string(&t.policy).map_err(|e| StoreError::Unavailable(e.to_string()))?,
        };
        self.db.write_tx(|conn| {
            diesel::insert_into(tenants::table)
                .values(&row)
                .execute(conn)
                .map_err(map_err("a tenant with this slug already exists"))?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        let row: Option<Row> = tenants::table
            .filter(tenants::slug.eq(slug))
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)?;
        Ok(row.map(Tenant::from))
    }

    fn platform_tenant(&self) -> Result<Option<Tenant>, StoreError> {
        let row: Option<Row> = tenants::table
            .filter(tenants::is_platform.eq(true))
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)?;
        Ok(row.map(Tenant::from))
    }

    fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows: Vec<Row> =
            tenants::table.order(tenants::slug.asc()).load(&mut *self.db.conn()?).map_err(unavailable)?;
        Ok(rows.into_iter().map(Tenant::from).collect())
    }
}
