//! Administrative reads and changes (AC1, AC2, L3): clients updated and deleted, roles
//! replaced, roles counted, audit records searched. Changes are conditional on the state the
//! administrator saw, so two administrators never overwrite each other silently.

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::audit::{AuditEvent, AuditRecord};
use gatehouse_core::model::{Client, User};
use gatehouse_core::store::{AdminStore, AuditFilter, CHANGED_MEANWHILE as CHANGED, SessionRecord, SessionsToEnd};

use crate::Store;
use crate::audit::{Row as AuditRow, append_in};
use crate::clients::Row;
use crate::conn::{DbConnection, on_backend};
use crate::error::unavailable;
use crate::flow::{SESSION_COLUMNS, SessionRow, session_of};
use crate::schema::{
    audit_log, auth_codes, auth_requests, clients, consents, refresh_tokens, role_assignments, roles, session_clients,
    sessions, users,
};

/// The client row, locked on PostgreSQL until the transaction ends (SQLite's write
/// transaction already excludes other writers).
fn locked_client(conn: &mut DbConnection, tenant_id: &str, client_id: &str) -> Result<Option<Row>, StoreError> {
    let q = clients::table.filter(clients::tenant_id.eq(tenant_id)).filter(clients::client_id.eq(client_id));
    match conn {
        DbConnection::Pg(c) => q.for_update().first(c).optional(),
        DbConnection::Sqlite(c) => q.first(c).optional(),
    }
    .map_err(unavailable)
}

/// Locks the user row on PostgreSQL (see [`locked_client`]); `NotFound` if there is none.
fn lock_user(conn: &mut DbConnection, tenant_id: &str, user_id: &str) -> Result<(), StoreError> {
    let q = users::table.filter(users::tenant_id.eq(tenant_id)).filter(users::id.eq(user_id)).select(users::id);
    let found: Option<String> = match conn {
        DbConnection::Pg(c) => q.for_update().first(c).optional(),
        DbConnection::Sqlite(c) => q.first(c).optional(),
    }
    .map_err(unavailable)?;
    found.map(|_| ()).ok_or(StoreError::NotFound("unknown user"))
}

fn roles_of(conn: &mut DbConnection, tenant_id: &str, user_id: &str) -> Result<Vec<String>, StoreError> {
    role_assignments::table
        .filter(role_assignments::tenant_id.eq(tenant_id))
        .filter(role_assignments::user_id.eq(user_id))
        .select(role_assignments::role_name)
        .order(role_assignments::role_name.asc())
        .load(conn)
        .map_err(unavailable)
}

impl AdminStore for Store {
    fn list_clients(&self, tenant_id: &str) -> Result<Vec<Client>, StoreError> {
        let rows: Vec<Row> = clients::table
            .filter(clients::tenant_id.eq(tenant_id))
            .order(clients::name.asc())
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)?;
        rows.into_iter().map(Row::into_client).collect()
    }

    fn replace_client(&self, before: &Client, after: &Client, audit: &AuditEvent) -> Result<(), StoreError> {
        if before.tenant_id != after.tenant_id || before.client_id != after.client_id {
            return Err(StoreError::Refused("a client keeps its tenant and id".into()));
        }
        let row = Row::from_client(after)?;
        self.db.write_tx(|conn| {
            let stored = locked_client(conn, &before.tenant_id, &before.client_id)?
                .ok_or(StoreError::NotFound("unknown client"))?;
            if &stored.into_client()? != before {
                return Err(CHANGED);
            }
            diesel::update(
                clients::table
                    .filter(clients::tenant_id.eq(&before.tenant_id))
                    .filter(clients::client_id.eq(&before.client_id)),
            )
            .set(&row)
            .execute(conn)
            .map_err(crate::error::map_err("a client with this name already exists in the tenant"))?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn delete_client(&self, before: &Client, audit: &AuditEvent) -> Result<(), StoreError> {
        let (tenant_id, client_id) = (before.tenant_id.as_str(), before.client_id.as_str());
        self.db.write_tx(|conn| {
            let stored = locked_client(conn, tenant_id, client_id)?.ok_or(StoreError::NotFound("unknown client"))?;
            if &stored.into_client()? != before {
                return Err(CHANGED);
            }
            // These name the client without a foreign key: what it was issued goes with it.
            diesel::delete(
                auth_codes::table
                    .filter(auth_codes::tenant_id.eq(tenant_id))
                    .filter(auth_codes::client_id.eq(client_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            diesel::delete(
                refresh_tokens::table
                    .filter(refresh_tokens::tenant_id.eq(tenant_id))
                    .filter(refresh_tokens::client_id.eq(client_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            diesel::delete(
                auth_requests::table
                    .filter(auth_requests::tenant_id.eq(tenant_id))
                    .filter(auth_requests::client_id.eq(client_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            diesel::delete(
                consents::table.filter(consents::tenant_id.eq(tenant_id)).filter(consents::client_id.eq(client_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            diesel::delete(
                session_clients::table
                    .filter(session_clients::tenant_id.eq(tenant_id))
                    .filter(session_clients::client_id.eq(client_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            let deleted = diesel::delete(
                clients::table.filter(clients::tenant_id.eq(tenant_id)).filter(clients::client_id.eq(client_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            if deleted == 0 {
                return Err(StoreError::NotFound("unknown client"));
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn set_user_roles(
        &self,
        tenant_id: &str,
        user_id: &str,
        before: &[String],
        new_roles: &[String],
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            lock_user(conn, tenant_id, user_id)?;
            if roles_of(conn, tenant_id, user_id)? != before {
                return Err(CHANGED);
            }
            diesel::delete(
                role_assignments::table
                    .filter(role_assignments::tenant_id.eq(tenant_id))
                    .filter(role_assignments::user_id.eq(user_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            for role in new_roles {
                let new_role = (roles::tenant_id.eq(tenant_id), roles::name.eq(role), roles::description.eq(""));
                on_backend!(&mut *conn, |c| diesel::insert_into(roles::table)
                    .values(new_role)
                    .on_conflict_do_nothing()
                    .execute(c))
                .map_err(unavailable)?;
                diesel::insert_into(role_assignments::table)
                    .values((
                        role_assignments::tenant_id.eq(tenant_id),
                        role_assignments::user_id.eq(user_id),
                        role_assignments::role_name.eq(role),
                    ))
                    .execute(conn)
                    .map_err(unavailable)?;
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn update_user(&self, before: &User, after: &User, now: i64, audit: &AuditEvent) -> Result<(), StoreError> {
        if before.tenant_id != after.tenant_id || before.id != after.id {
            return Err(StoreError::Refused("a user keeps their tenant and id".into()));
        }
        let (tenant_id, user_id) = (before.tenant_id.as_str(), before.id.as_str());
        self.db.write_tx(|conn| {
            lock_user(conn, tenant_id, user_id)?;
            let stored =
                crate::users::user_in(conn, tenant_id, user_id)?.ok_or(StoreError::NotFound("unknown user"))?;
            if &stored != before {
                return Err(CHANGED);
            }
            diesel::update(users::table.filter(users::tenant_id.eq(tenant_id)).filter(users::id.eq(user_id)))
                .set((
                    users::display_name.eq(&after.display_name),
                    users::email.eq(&after.email),
                    users::email_verified.eq(after.email_verified),
                    users::disabled.eq(after.disabled),
                ))
                .execute(conn)
                .map_err(crate::error::map_err("a user with this email already exists in the tenant"))?;
            if after.disabled && !before.disabled {
                crate::accounts::end_user_sessions(conn, tenant_id, user_id, SessionsToEnd::All, now)?;
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::tenant_id.eq(tenant_id))
                        .filter(refresh_tokens::user_id.eq(user_id))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(Some(now)))
                .execute(conn)
                .map_err(unavailable)?;
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn tenant_sessions(
        &self,
        tenant_id: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(SessionRecord, String)>, StoreError> {
        let mut conn = self.db.conn()?;
        let rows: Vec<SessionRow> = sessions::table
            .filter(sessions::tenant_id.eq(tenant_id))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .order(sessions::last_seen_at.desc())
            .limit(limit)
            .select(SESSION_COLUMNS)
            .load(&mut *conn)
            .map_err(unavailable)?;
        let live: Vec<SessionRecord> = rows.into_iter().map(session_of).collect();
        let ids: Vec<&str> = live.iter().map(|s| s.user_id.as_str()).collect();
        let names: Vec<(String, String)> = users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::id.eq_any(ids))
            .select((users::id, users::username))
            .load(&mut *conn)
            .map_err(unavailable)?;
        Ok(live
            .into_iter()
            .filter_map(|s| {
                let name = names.iter().find(|(id, _)| *id == s.user_id)?.1.clone();
                Some((s, name))
            })
            .collect())
    }

    fn list_roles(&self, tenant_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut conn = self.db.conn()?;
        let names: Vec<String> = roles::table
            .filter(roles::tenant_id.eq(tenant_id))
            .select(roles::name)
            .order(roles::name.asc())
            .load(&mut *conn)
            .map_err(unavailable)?;
        let held: Vec<String> = role_assignments::table
            .filter(role_assignments::tenant_id.eq(tenant_id))
            .select(role_assignments::role_name)
            .load(&mut *conn)
            .map_err(unavailable)?;
        Ok(names
            .into_iter()
            .map(|name| {
                let members = held.iter().filter(|h| **h == name).count() as i64;
                (name, members)
            })
            .collect())
    }

    fn search_audit(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let mut q = audit_log::table.into_boxed();
        if let Some(t) = &f.tenant_id {
            q = q.filter(audit_log::tenant_id.eq(t.clone()));
        }
        if let Some(a) = &f.actor {
            q = q.filter(audit_log::actor.eq(a.clone()));
        }
        if let Some(a) = &f.action {
            q = q.filter(audit_log::action.eq(a.clone()));
        }
        if let Some(t) = &f.target {
            q = q.filter(audit_log::target.eq(t.clone()));
        }
        if let Some(s) = f.since {
            q = q.filter(audit_log::at.ge(s));
        }
        if let Some(u) = f.until {
            q = q.filter(audit_log::at.lt(u));
        }
        if let Some(b) = f.before_seq {
            q = q.filter(audit_log::seq.lt(b));
        }
        let rows: Vec<AuditRow> = q
            .order(audit_log::seq.desc())
            .limit(f.limit.clamp(1, 1000))
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }
}
