//! Upstream identity providers (O8). The client secret stays sealed here (D1); the policies
//! are JSON. Every query is scoped by tenant (AC1).

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::federation::{LinkedIdentity, Upstream, UpstreamSettings};
use gatehouse_core::model::User;
use gatehouse_core::store::{CHANGED_MEANWHILE, UpstreamStore};
use gatehouse_types::RoleName;

use crate::Store;
use crate::audit::append_in;
use crate::conn::{DbConnection, on_backend};
use crate::error::{map_err, unavailable};
use crate::schema::{upstream_identities, upstream_sessions, upstreams};

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

#[derive(Queryable, Insertable)]
#[diesel(table_name = upstream_identities)]
struct IdentityRow {
    tenant_id: String,
    upstream_id: String,
    subject: String,
    user_id: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<IdentityRow> for LinkedIdentity {
    fn from(r: IdentityRow) -> Self {
        Self {
            tenant_id: r.tenant_id,
            upstream_id: r.upstream_id,
            subject: r.subject,
            user_id: r.user_id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

impl From<&LinkedIdentity> for IdentityRow {
    fn from(i: &LinkedIdentity) -> Self {
        Self {
            tenant_id: i.tenant_id.clone(),
            upstream_id: i.upstream_id.clone(),
            subject: i.subject.clone(),
            user_id: i.user_id.clone(),
            created_at: i.created_at,
            last_used_at: i.last_used_at,
        }
    }
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

    fn identity_user(&self, tenant_id: &str, upstream_id: &str, subject: &str) -> Result<Option<String>, StoreError> {
        upstream_identities::table
            .filter(upstream_identities::tenant_id.eq(tenant_id))
            .filter(upstream_identities::upstream_id.eq(upstream_id))
            .filter(upstream_identities::subject.eq(subject))
            .select(upstream_identities::user_id)
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)
    }

    fn link_identity(&self, i: &LinkedIdentity, audit: &AuditEvent) -> Result<(), StoreError> {
        let row = IdentityRow::from(i);
        self.db.write_tx(|conn| {
            diesel::insert_into(upstream_identities::table).values(&row).execute(conn).map_err(map_err(
                "this upstream identity is already linked, or the account has one of this upstream",
            ))?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn identities_of(&self, tenant_id: &str, user_id: &str) -> Result<Vec<LinkedIdentity>, StoreError> {
        let rows: Vec<IdentityRow> = upstream_identities::table
            .filter(upstream_identities::tenant_id.eq(tenant_id))
            .filter(upstream_identities::user_id.eq(user_id))
            .order((upstream_identities::created_at.asc(), upstream_identities::upstream_id.asc()))
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(LinkedIdentity::from).collect())
    }

    fn unlink_identity(
        &self,
        tenant_id: &str,
        user_id: &str,
        upstream_id: &str,
        subject: &str,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.db.write_tx(|conn| {
            let n = diesel::delete(
                upstream_identities::table
                    .filter(upstream_identities::tenant_id.eq(tenant_id))
                    .filter(upstream_identities::user_id.eq(user_id))
                    .filter(upstream_identities::upstream_id.eq(upstream_id))
                    .filter(upstream_identities::subject.eq(subject)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            if n > 0 {
                append_in(conn, &self.vault, audit)?;
            }
            Ok(n > 0)
        })
    }

    fn provision_identity(
        &self,
        user: &User,
        roles: &[RoleName],
        identity: &LinkedIdentity,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            crate::users::insert_user(conn, user, roles)?;
            diesel::insert_into(upstream_identities::table)
                .values(&IdentityRow::from(identity))
                .execute(conn)
                .map_err(map_err("this upstream identity is already linked"))?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn identity_used(&self, tenant_id: &str, upstream_id: &str, subject: &str, now: i64) -> Result<(), StoreError> {
        diesel::update(
            upstream_identities::table
                .filter(upstream_identities::tenant_id.eq(tenant_id))
                .filter(upstream_identities::upstream_id.eq(upstream_id))
                .filter(upstream_identities::subject.eq(subject)),
        )
        .set(upstream_identities::last_used_at.eq(Some(now)))
        .execute(&mut *self.db.conn()?)
        .map_err(unavailable)?;
        Ok(())
    }

    fn save_upstream_session(
        &self,
        tenant_id: &str,
        sid: &str,
        upstream_id: &str,
        sealed_id_token: &[u8],
    ) -> Result<(), StoreError> {
        let row = (
            upstream_sessions::sid.eq(sid),
            upstream_sessions::tenant_id.eq(tenant_id),
            upstream_sessions::upstream_id.eq(upstream_id),
            upstream_sessions::id_token.eq(sealed_id_token),
        );
        let conn = &mut *self.db.conn()?;
        // A renewed session (same sid) keeps the upstream of its latest federated sign-in.
        on_backend!(conn, |c| diesel::insert_into(upstream_sessions::table)
            .values(row)
            .on_conflict(upstream_sessions::sid)
            .do_update()
            .set((upstream_sessions::upstream_id.eq(upstream_id), upstream_sessions::id_token.eq(sealed_id_token),))
            .execute(c))
        .map_err(unavailable)?;
        Ok(())
    }

    fn upstream_session(&self, tenant_id: &str, sid: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        upstream_sessions::table
            .filter(upstream_sessions::tenant_id.eq(tenant_id))
            .filter(upstream_sessions::sid.eq(sid))
            .select((upstream_sessions::upstream_id, upstream_sessions::id_token))
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)
    }

    fn identities_linked(&self, tenant_id: &str, upstream_id: &str) -> Result<i64, StoreError> {
        upstream_identities::table
            .filter(upstream_identities::tenant_id.eq(tenant_id))
            .filter(upstream_identities::upstream_id.eq(upstream_id))
            .count()
            .get_result(&mut *self.db.conn()?)
            .map_err(unavailable)
    }
}
