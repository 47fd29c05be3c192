//! Users and role assignments (A1, AC5). Every query is scoped by tenant (AC1).

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::model::User;
use gatehouse_core::store::UserStore;
use gatehouse_types::{RoleName, Secret};

use crate::Store;
use crate::audit::append_in;
use crate::conn::on_backend;
use crate::error::{unavailable, violated};
use crate::schema::{auth_codes, refresh_tokens, role_assignments, roles, users, webauthn_ceremonies};
use crate::session_end;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Queryable, Insertable)]
#[diesel(table_name = users)]
struct Row {
    id: String,
    tenant_id: String,
    username: String,
    email: String,
    password_hash: Option<String>,
    must_change_password: bool,
    disabled: bool,
    created_at: i64,
    display_name: String,
    email_verified: bool,
    password_changed_at: Option<i64>,
}

impl From<Row> for User {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            username: r.username,
            email: r.email,
            password_hash: r.password_hash.map(Secret::new),
            must_change_password: r.must_change_password,
            disabled: r.disabled,
            created_at: r.created_at,
            display_name: r.display_name,
            email_verified: r.email_verified,
            password_changed_at: r.password_changed_at,
        }
    }
}

/// Names which unique rule a new user broke.
fn user_conflict(e: diesel::result::Error) -> StoreError {
    match violated(&e) {
        Some(c) if c.contains("email") => StoreError::Conflict("a user with this email already exists in the tenant"),
        Some(_) => StoreError::Conflict("a user with this username already exists in the tenant"),
        None => unavailable(e),
    }
}

/// The user `user_id` of the tenant, read inside the caller's transaction.
pub(crate) fn user_in(
    conn: &mut crate::conn::DbConnection,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<User>, StoreError> {
    let row: Option<Row> = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::id.eq(user_id))
        .first(conn)
        .optional()
        .map_err(unavailable)?;
    Ok(row.map(User::from))
}

/// Inserts `u` with its roles inside the caller's transaction (a taken name or address is
/// `Conflict`).
pub(crate) fn insert_user(
    conn: &mut crate::conn::DbConnection,
    u: &User,
    role_names: &[RoleName],
) -> Result<(), StoreError> {
    let row = Row {
        id: u.id.clone(),
        tenant_id: u.tenant_id.clone(),
        username: u.username.clone(),
        email: u.email.clone(),
        password_hash: u.password_hash.as_ref().map(|h| h.expose().clone()),
        must_change_password: u.must_change_password,
        disabled: u.disabled,
        created_at: u.created_at,
        display_name: u.display_name.clone(),
        email_verified: u.email_verified,
        password_changed_at: u.password_changed_at,
    };
    diesel::insert_into(users::table).values(&row).execute(conn).map_err(user_conflict)?;
    for role in role_names {
        let new_role = (roles::tenant_id.eq(&u.tenant_id), roles::name.eq(role.as_str()), roles::description.eq(""));
        on_backend!(&mut *conn, |c| diesel::insert_into(roles::table)
            .values(new_role)
            .on_conflict_do_nothing()
            .execute(c))
        .map_err(unavailable)?;
        diesel::insert_into(role_assignments::table)
            .values((
                role_assignments::tenant_id.eq(&u.tenant_id),
                role_assignments::user_id.eq(&u.id),
                role_assignments::role_name.eq(role.as_str()),
            ))
            .execute(conn)
            .map_err(unavailable)?;
    }
    Ok(())
}

impl UserStore for Store {
    fn create_user(&self, u: &User, role_names: &[RoleName], audit: &AuditEvent) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            insert_user(conn, u, role_names)?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn user_by_id(&self, tenant_id: &str, user_id: &str) -> Result<Option<User>, StoreError> {
        user_in(&mut *self.db.conn()?, tenant_id, user_id)
    }

    fn user_by_username(&self, tenant_id: &str, username: &str) -> Result<Option<User>, StoreError> {
        let row: Option<Row> = users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::username.eq(username))
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)?;
        Ok(row.map(User::from))
    }

    fn user_by_email(&self, tenant_id: &str, email: &str) -> Result<Option<User>, StoreError> {
        let row: Option<Row> = users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::email.eq(email))
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)?;
        Ok(row.map(User::from))
    }

    fn list_users(
        &self,
        tenant_id: &str,
        search: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<User>, StoreError> {
        let mut query = users::table.filter(users::tenant_id.eq(tenant_id)).into_boxed();
        if let Some(after) = after {
            query = query.filter(users::username.gt(after.to_owned()));
        }
        if let Some(term) = search.filter(|t| !t.is_empty()) {
            // The term is data, not a pattern: its wildcards are escaped.
            let escaped: String = term
                .to_lowercase()
                .chars()
                .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
                .collect();
            let pattern = format!("%{escaped}%");
            query = query.filter(
                users::username.like(pattern.clone()).escape('\\').or(lower(users::email).like(pattern).escape('\\')),
            );
        }
        let rows: Vec<Row> =
            query.order(users::username.asc()).limit(limit).load(&mut *self.db.conn()?).map_err(unavailable)?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    fn user_roles(&self, tenant_id: &str, user_id: &str) -> Result<Vec<String>, StoreError> {
        role_assignments::table
            .filter(role_assignments::tenant_id.eq(tenant_id))
            .filter(role_assignments::user_id.eq(user_id))
            .select(role_assignments::role_name)
            .order(role_assignments::role_name.asc())
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)
    }

    fn count_role_members(&self, tenant_id: &str, role: &str) -> Result<i64, StoreError> {
        role_assignments::table
            .filter(role_assignments::tenant_id.eq(tenant_id))
            .filter(role_assignments::role_name.eq(role))
            .count()
            .get_result(&mut *self.db.conn()?)
            .map_err(unavailable)
    }

    fn rehash_password(
        &self,
        tenant_id: &str,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        let updated = self.db.write_tx(|conn| {
            diesel::update(
                users::table
                    .filter(users::tenant_id.eq(tenant_id))
                    .filter(users::id.eq(user_id))
                    .filter(users::password_hash.eq(old_hash)),
            )
            .set(users::password_hash.eq(Some(new_hash)))
            .execute(conn)
            .map_err(unavailable)
        })?;
        Ok(updated == 1)
    }

    fn delete_user(&self, tenant_id: &str, user_id: &str, now: i64, audit: &AuditEvent) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            // S6: the user's sessions end with them; their clients are told.
            let open = session_end::open_sessions_of(conn, tenant_id, user_id)?;
            session_end::after_sessions_end(conn, tenant_id, &open, now)?;
            // These carry the user's id without a foreign key; the rest cascades from `users`.
            diesel::delete(
                refresh_tokens::table
                    .filter(refresh_tokens::tenant_id.eq(tenant_id))
                    .filter(refresh_tokens::user_id.eq(user_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            diesel::delete(
                auth_codes::table.filter(auth_codes::tenant_id.eq(tenant_id)).filter(auth_codes::user_id.eq(user_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            // Ceremonies of the user's (at most minutes old) go too.
            diesel::delete(
                webauthn_ceremonies::table
                    .filter(webauthn_ceremonies::tenant_id.eq(tenant_id))
                    .filter(webauthn_ceremonies::user_id.eq(user_id)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            let deleted =
                diesel::delete(users::table.filter(users::tenant_id.eq(tenant_id)).filter(users::id.eq(user_id)))
                    .execute(conn)
                    .map_err(unavailable)?;
            if deleted == 0 {
                return Err(StoreError::NotFound("unknown user"));
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }
}
