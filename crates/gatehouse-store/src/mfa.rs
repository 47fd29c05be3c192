//! Second factors, recovery codes and WebAuthn ceremonies (A5, A6). Every query is scoped by
//! tenant (AC1); a TOTP step, a recovery code and a ceremony are each used once by a
//! conditional update or delete, so the rule holds under concurrency and across nodes.

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::mfa::{Factor, FactorKind};
use gatehouse_core::store::{Ceremony, MfaStore};

use crate::Store;
use crate::audit::append_in;
use crate::conn::DbConnection;
use crate::error::{map_err, unavailable};
use crate::schema::{mfa_factors as mf, recovery_codes as rc, webauthn_ceremonies as wc};

type FactorRow = (
    String,
    String,
    String,
    String,
    String,
    bool,
    Option<Vec<u8>>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

type FactorColumns = (
    mf::id,
    mf::tenant_id,
    mf::user_id,
    mf::kind,
    mf::name,
    mf::confirmed,
    mf::secret,
    mf::last_step,
    mf::credential_id,
    mf::credential,
    mf::transports,
    mf::created_at,
    mf::last_used_at,
);

const FACTOR_COLUMNS: FactorColumns = (
    mf::id,
    mf::tenant_id,
    mf::user_id,
    mf::kind,
    mf::name,
    mf::confirmed,
    mf::secret,
    mf::last_step,
    mf::credential_id,
    mf::credential,
    mf::transports,
    mf::created_at,
    mf::last_used_at,
);

fn factor_of(r: FactorRow) -> Result<Factor, StoreError> {
    let (
        id,
        tenant_id,
        user_id,
        kind,
        name,
        confirmed,
        secret,
        last_step,
        credential_id,
        credential,
        transports,
        created_at,
        last,
    ) = r;
    let kind =
        FactorKind::parse(&kind).ok_or_else(|| StoreError::Unavailable(format!("unknown factor kind {kind}")))?;
    Ok(Factor {
        id,
        tenant_id,
        user_id,
        kind,
        name,
        confirmed,
        secret,
        last_step,
        credential_id,
        credential,
        transports,
        created_at,
        last_used_at: last,
    })
}

fn insert_factor(conn: &mut DbConnection, f: &Factor) -> Result<(), StoreError> {
    diesel::insert_into(mf::table)
        .values((
            mf::id.eq(&f.id),
            mf::tenant_id.eq(&f.tenant_id),
            mf::user_id.eq(&f.user_id),
            mf::kind.eq(f.kind.as_str()),
            mf::name.eq(&f.name),
            mf::confirmed.eq(f.confirmed),
            mf::secret.eq(&f.secret),
            mf::last_step.eq(f.last_step),
            mf::credential_id.eq(&f.credential_id),
            mf::credential.eq(&f.credential),
            mf::transports.eq(&f.transports),
            mf::created_at.eq(f.created_at),
            mf::last_used_at.eq(f.last_used_at),
        ))
        .execute(conn)
        .map(|_| ())
        .map_err(map_err("this passkey is registered already"))
}

fn unused_codes(conn: &mut DbConnection, tenant_id: &str, user_id: &str) -> Result<i64, StoreError> {
    rc::table
        .filter(rc::tenant_id.eq(tenant_id))
        .filter(rc::user_id.eq(user_id))
        .filter(rc::used_at.is_null())
        .count()
        .get_result(conn)
        .map_err(unavailable)
}

impl MfaStore for Store {
    fn factors(&self, tenant_id: &str, user_id: &str) -> Result<Vec<Factor>, StoreError> {
        let rows: Vec<FactorRow> = mf::table
            .filter(mf::tenant_id.eq(tenant_id))
            .filter(mf::user_id.eq(user_id))
            .order((mf::created_at.asc(), mf::id.asc()))
            .select(FACTOR_COLUMNS)
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)?;
        rows.into_iter().map(factor_of).collect()
    }

    fn add_pending_totp(&self, f: &Factor) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            diesel::delete(
                mf::table
                    .filter(mf::tenant_id.eq(&f.tenant_id))
                    .filter(mf::user_id.eq(&f.user_id))
                    .filter(mf::kind.eq(FactorKind::Totp.as_str()))
                    .filter(mf::confirmed.eq(false)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            insert_factor(conn, f)
        })
    }

    fn confirm_totp(
        &self,
        tenant_id: &str,
        factor_id: &str,
        name: &str,
        step: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.db.write_tx(|conn| {
            let done = diesel::update(
                mf::table
                    .filter(mf::tenant_id.eq(tenant_id))
                    .filter(mf::id.eq(factor_id))
                    .filter(mf::kind.eq(FactorKind::Totp.as_str()))
                    .filter(mf::confirmed.eq(false)),
            )
            .set((mf::confirmed.eq(true), mf::name.eq(name), mf::last_step.eq(Some(step))))
            .execute(conn)
            .map_err(unavailable)?;
            if done == 1 {
                append_in(conn, &self.vault, audit)?;
            }
            Ok(done == 1)
        })
    }

    fn use_totp_step(&self, tenant_id: &str, factor_id: &str, step: i64, now: i64) -> Result<bool, StoreError> {
        let used = self.db.write_tx(|conn| {
            diesel::update(
                mf::table
                    .filter(mf::tenant_id.eq(tenant_id))
                    .filter(mf::id.eq(factor_id))
                    .filter(mf::confirmed.eq(true))
                    .filter(mf::last_step.is_null().or(mf::last_step.lt(step))),
            )
            .set((mf::last_step.eq(Some(step)), mf::last_used_at.eq(Some(now))))
            .execute(conn)
            .map_err(unavailable)
        })?;
        Ok(used == 1)
    }

    fn add_passkey(&self, f: &Factor, audit: &AuditEvent) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            insert_factor(conn, f)?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn passkey_by_credential(&self, tenant_id: &str, credential_id: &str) -> Result<Option<Factor>, StoreError> {
        let row: Option<FactorRow> = mf::table
            .filter(mf::tenant_id.eq(tenant_id))
            .filter(mf::credential_id.eq(credential_id))
            .filter(mf::kind.eq(FactorKind::Passkey.as_str()))
            .select(FACTOR_COLUMNS)
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)?;
        row.map(factor_of).transpose()
    }

    fn use_passkey(&self, tenant_id: &str, factor_id: &str, credential: &str, now: i64) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            diesel::update(mf::table.filter(mf::tenant_id.eq(tenant_id)).filter(mf::id.eq(factor_id)))
                .set((mf::credential.eq(Some(credential)), mf::last_used_at.eq(Some(now))))
                .execute(conn)
                .map(|_| ())
                .map_err(unavailable)
        })
    }

    fn remove_factor(
        &self,
        tenant_id: &str,
        user_id: &str,
        factor_id: &str,
        keep_one: bool,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            let mine = mf::table.filter(mf::tenant_id.eq(tenant_id)).filter(mf::user_id.eq(user_id));
            let confirmed: Vec<String> =
                mine.filter(mf::confirmed.eq(true)).select(mf::id).load(conn).map_err(unavailable)?;
            if !confirmed.iter().any(|id| id == factor_id) {
                return Err(StoreError::NotFound("no such factor"));
            }
            if keep_one && confirmed.len() == 1 {
                return Err(StoreError::Refused("the last second factor cannot be removed: one is required".into()));
            }
            diesel::delete(mine.filter(mf::id.eq(factor_id))).execute(conn).map_err(unavailable)?;
            if confirmed.len() == 1 {
                diesel::delete(rc::table.filter(rc::tenant_id.eq(tenant_id)).filter(rc::user_id.eq(user_id)))
                    .execute(conn)
                    .map_err(unavailable)?;
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn replace_recovery_codes(
        &self,
        tenant_id: &str,
        user_id: &str,
        hashes: &[Vec<u8>],
        now: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            diesel::delete(rc::table.filter(rc::tenant_id.eq(tenant_id)).filter(rc::user_id.eq(user_id)))
                .execute(conn)
                .map_err(unavailable)?;
            for hash in hashes {
                diesel::insert_into(rc::table)
                    .values((
                        rc::tenant_id.eq(tenant_id),
                        rc::user_id.eq(user_id),
                        rc::code_hash.eq(hash),
                        rc::created_at.eq(now),
                    ))
                    .execute(conn)
                    .map_err(unavailable)?;
            }
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn use_recovery_code(
        &self,
        tenant_id: &str,
        user_id: &str,
        hash: &[u8],
        now: i64,
        audit: &AuditEvent,
    ) -> Result<Option<i64>, StoreError> {
        self.db.write_tx(|conn| {
            let used = diesel::update(
                rc::table
                    .filter(rc::tenant_id.eq(tenant_id))
                    .filter(rc::user_id.eq(user_id))
                    .filter(rc::code_hash.eq(hash))
                    .filter(rc::used_at.is_null()),
            )
            .set(rc::used_at.eq(Some(now)))
            .execute(conn)
            .map_err(unavailable)?;
            if used != 1 {
                return Ok(None);
            }
            let left = unused_codes(conn, tenant_id, user_id)?;
            let mut audit = audit.clone();
            if let serde_json::Value::Object(details) = &mut audit.details {
                details.insert("remaining".into(), left.into());
            }
            append_in(conn, &self.vault, &audit)?;
            Ok(Some(left))
        })
    }

    fn recovery_codes_left(&self, tenant_id: &str, user_id: &str) -> Result<i64, StoreError> {
        unused_codes(&mut *self.db.conn()?, tenant_id, user_id)
    }

    fn reset_mfa(&self, tenant_id: &str, user_id: &str, audit: &AuditEvent) -> Result<usize, StoreError> {
        self.db.write_tx(|conn| {
            let removed = diesel::delete(mf::table.filter(mf::tenant_id.eq(tenant_id)).filter(mf::user_id.eq(user_id)))
                .execute(conn)
                .map_err(unavailable)?;
            diesel::delete(rc::table.filter(rc::tenant_id.eq(tenant_id)).filter(rc::user_id.eq(user_id)))
                .execute(conn)
                .map_err(unavailable)?;
            append_in(conn, &self.vault, audit)?;
            Ok(removed)
        })
    }

    fn save_ceremony(&self, c: &Ceremony) -> Result<(), StoreError> {
        self.db.write_tx(|conn| {
            diesel::insert_into(wc::table)
                .values((
                    wc::id.eq(&c.id),
                    wc::tenant_id.eq(&c.tenant_id),
                    wc::user_id.eq(&c.user_id),
                    wc::purpose.eq(&c.purpose),
                    wc::state.eq(&c.state),
                    wc::expires_at.eq(c.expires_at),
                ))
                .execute(conn)
                .map(|_| ())
                .map_err(unavailable)
        })
    }

    fn take_ceremony(&self, tenant_id: &str, id: &str, now: i64) -> Result<Option<Ceremony>, StoreError> {
        self.db.write_tx(|conn| {
            let row: Option<(String, String, Option<String>, String, String, i64)> = wc::table
                .filter(wc::tenant_id.eq(tenant_id))
                .filter(wc::id.eq(id))
                .select((wc::id, wc::tenant_id, wc::user_id, wc::purpose, wc::state, wc::expires_at))
                .first(conn)
                .optional()
                .map_err(unavailable)?;
            let Some((id, tenant_id, user_id, purpose, state, expires_at)) = row else { return Ok(None) };
            let taken = diesel::delete(wc::table.filter(wc::tenant_id.eq(&tenant_id)).filter(wc::id.eq(&id)))
                .execute(conn)
                .map_err(unavailable)?;
            let live = taken == 1 && expires_at > now;
            Ok(live.then_some(Ceremony { id, tenant_id, user_id, purpose, state, expires_at }))
        })
    }
}
