//! Upstream identity providers (O8). The client secret stays sealed here (D1); the policies
//! are JSON. Every query is scoped by tenant (AC1).

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::federation::{Upstream, UpstreamSettings};
use gatehouse_core::store::{CHANGED_MEANWHILE, UpstreamStore};

use crate::Store;
use crate::audit::append_in;
use crate::conn::DbConnection;
use crate::error::{map_err, unavailable};
use crate::schema::upstreams;

const TAKEN: &str = "an upstream with this name already exists in the tenant";

#[derive(Queryable, Insertable, AsChangeset, Clone, PartialEq, Eq)]
#[diesel(table_name = upstreams, treat_none_as_null = true)]
struct Row {
    id: String,
    tenant_id: String,
    name: String,
    display_name: String,
    issuer: String,
    client_id: String,
    client_secret: Option<Vec<u8>>,
    scopes: String,
    settings: String,
    created_at: i64,
}

impl Row {
    fn of(u: &Upstream) -> Result<Self, StoreError> {
        Ok(Self {
            id: u.id.clone(),
            tenant_id: u.tenant_id.clone(),
            name: u.name.clone(),
            display_name: u.display_name.clone(),
            issuer: u.issuer.clone(),
            client_id: u.client_id.clone(),
            client_secret: u.sealed_secret.clone(),
            scopes: u.scopes.join(" "),
            settings: serde_json::to_string(&u.settings).map_err(unavailable)?,
            created_at: u.created_at,
        })
    }

    /// A row edited into unreadable settings fails closed.
    fn upstream(self) -> Result<Upstream, StoreError> {
        let settings: UpstreamSettings = serde_json::from_str(&self.settings).map_err(unavailable)?;
        Ok(Upstream {
            id: self.id,
            tenant_id: self.tenant_id,
            name: self.name,
            display_name: self.display_name,
            issuer: self.issuer,
            client_id: self.client_id,
            sealed_secret: self.client_secret,
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            settings,
            created_at: self.created_at,
        })
    }
}

/// The upstream `id` of the tenant, locked on PostgreSQL until the transaction ends.
fn locked(conn: &mut DbConnection, tenant_id: &str, id: &str) -> Result<Option<Row>, StoreError> {
    let q = upstreams::table.filter(upstreams::tenant_id.eq(tenant_id)).filter(upstreams::id.eq(id));
    match conn {
        DbConnection::Pg(c) => q.for_update().first(c).optional(),
        DbConnection::Sqlite(c) => q.first(c).optional(),
    }
    .map_err(unavailable)
}

impl UpstreamStore for Store {
    fn create_upstream(&self, u: &Upstream, audit: &AuditEvent) -> Result<(), StoreError> {
        let row = Row::of(u)?;
        self.db.write_tx(|conn| {
            diesel::insert_into(upstreams::table).values(&row).execute(conn).map_err(map_err(TAKEN))?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn upstreams(&self, tenant_id: &str) -> Result<Vec<Upstream>, StoreError> {
        let rows: Vec<Row> = upstreams::table
            .filter(upstreams::tenant_id.eq(tenant_id))
            .order(upstreams::name.asc())
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)?;
        rows.into_iter().map(Row::upstream).collect()
    }

    fn upstream_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<Upstream>, StoreError> {
        let row: Option<Row> = upstreams::table
            .filter(upstreams::tenant_id.eq(tenant_id))
            .filter(upstreams::name.eq(name))
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)?;
        row.map(Row::upstream).transpose()
    }

    fn replace_upstream(&self, before: &Upstream, after: &Upstream, audit: &AuditEvent) -> Result<(), StoreError> {
        if before.tenant_id != after.tenant_id || before.id != after.id {
            return Err(StoreError::Refused("an upstream keeps its tenant and id".into()));
        }
        let row = Row::of(after)?;
        self.db.write_tx(|conn| {
            let stored =
                locked(conn, &before.tenant_id, &before.id)?.ok_or(StoreError::NotFound("unknown upstream"))?;
            if &stored.upstream()? != before {
                return Err(CHANGED_MEANWHILE);
            }
            diesel::update(
                upstreams::table
                    .filter(upstreams::tenant_id.eq(&before.tenant_id))
                    .filter(upstreams::id.eq(&before.id)),
            )
            .set(&row)
            .execute(conn)
            .map_err(map_err(TAKEN))?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn delete_upstream(&self, before: &Upstream, audit: &AuditEvent) -> Result<(), StoreError> {
        let (tenant_id, id) = (before.tenant_id.as_str(), before.id.as_str());
        self.db.write_tx(|conn| {
            let stored = locked(conn, tenant_id, id)?.ok_or(StoreError::NotFound("unknown upstream"))?;
            if &stored.upstream()? != before {
                return Err(CHANGED_MEANWHILE);
            }
            let n = diesel::delete(
                upstreams::table.filter(upstreams::tenant_id.eq(tenant_id)).filter(upstreams::id.eq(id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            if n == 0 {
                return Err(StoreError::NotFound("unknown upstream"));
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }
}
