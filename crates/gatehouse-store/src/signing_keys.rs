//! Token signing keys (O4) and revoked access tokens (RFC 7009). Scoped by tenant (AC1).

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::store::{RevocationStore, SigningKeyStore, StoredSigningKey};

use crate::Store;
use crate::audit::append_in;
use crate::conn::on_backend;
use crate::error::{map_err, unavailable};
use crate::schema::{client_assertion_jtis, revoked_tokens, signing_keys};

#[derive(Queryable, Insertable)]
#[diesel(table_name = signing_keys)]
struct Row {
    kid: String,
    tenant_id: String,
    alg: String,
    private_key: Vec<u8>,
    public_jwk: String,
    created_at: i64,
    retire_at: Option<i64>,
}

impl SigningKeyStore for Store {
    fn published_keys(&self, tenant_id: &str, now: i64) -> Result<Vec<StoredSigningKey>, StoreError> {
        let rows: Vec<Row> = signing_keys::table
            .filter(signing_keys::tenant_id.eq(tenant_id))
            .filter(signing_keys::retire_at.is_null().or(signing_keys::retire_at.gt(now)))
            .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
            .load(&mut *self.db.conn()?)
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|r| StoredSigningKey {
                kid: r.kid,
                tenant_id: r.tenant_id,
                alg: r.alg,
                sealed_private_key: r.private_key,
                public_jwk: r.public_jwk,
                created_at: r.created_at,
                retire_at: r.retire_at,
            })
            .collect())
    }

    fn add_signing_key(
        &self,
        k: &StoredSigningKey,
        retire_previous_at: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let row = Row {
            kid: k.kid.clone(),
            tenant_id: k.tenant_id.clone(),
            alg: k.alg.clone(),
            private_key: k.sealed_private_key.clone(),
            public_jwk: k.public_jwk.clone(),
            created_at: k.created_at,
            retire_at: None,
        };
        self.db.write_tx(|conn| {
            diesel::update(signing_keys::table)
                .filter(signing_keys::tenant_id.eq(&k.tenant_id))
                .filter(signing_keys::alg.eq(&k.alg))
                .filter(signing_keys::retire_at.is_null())
                .set(signing_keys::retire_at.eq(Some(retire_previous_at)))
                .execute(conn)
                .map_err(unavailable)?;
            diesel::insert_into(signing_keys::table)
                .values(&row)
                .execute(conn)
                .map_err(map_err("signing key exists"))?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }
}

impl RevocationStore for Store {
    fn revoke_jti(
        &self,
        tenant_id: &str,
        jti: &str,
        client_id: &str,
        expires_at: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let row = (
            revoked_tokens::tenant_id.eq(tenant_id),
            revoked_tokens::jti.eq(jti),
            revoked_tokens::client_id.eq(client_id),
            revoked_tokens::expires_at.eq(expires_at),
        );
        self.db.write_tx(|conn| {
            on_backend!(&mut *conn, |c| diesel::insert_into(revoked_tokens::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c))
            .map_err(unavailable)?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn is_revoked(&self, tenant_id: &str, jti: &str) -> Result<bool, StoreError> {
        let n: i64 = revoked_tokens::table
            .filter(revoked_tokens::tenant_id.eq(tenant_id))
            .filter(revoked_tokens::jti.eq(jti))
            .count()
            .get_result(&mut *self.db.conn()?)
            .map_err(unavailable)?;
        Ok(n > 0)
    }

    fn use_assertion_jti(
        &self,
        tenant_id: &str,
        client_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let inserted = diesel::insert_into(client_assertion_jtis::table)
            .values((
                client_assertion_jtis::tenant_id.eq(tenant_id),
                client_assertion_jtis::client_id.eq(client_id),
                client_assertion_jtis::jti.eq(jti),
                client_assertion_jtis::expires_at.eq(expires_at),
            ))
            .execute(&mut *self.db.conn()?);
        match inserted {
            Ok(_) => Ok(true),
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}
