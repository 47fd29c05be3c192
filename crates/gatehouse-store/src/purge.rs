//! D3: expired codes, tokens, sessions and requests are purged. Records that detect a replay
//! (used codes, rotated refresh tokens) are kept until a replay could no longer matter.

use diesel::prelude::*;
use gatehouse_core::StoreError;
use serde::Serialize;

use crate::Store;
use crate::error::unavailable;
use crate::schema::{
    auth_codes, auth_requests, client_assertion_jtis, mfa_factors, refresh_tokens, revoked_tokens, sessions,
    webauthn_ceremonies,
};

/// Codes stay this long past their expiry, so a late replay still revokes what they issued (O2).
const CODE_GRACE_SECS: i64 = 3600;
/// Ended or idle sessions stay this long (back-channel logout reads a session after its end).
const SESSION_GRACE_SECS: i64 = 3600;
/// A TOTP factor never confirmed by a first code is dropped after this long (A5).
const PENDING_FACTOR_SECS: i64 = 3600;

/// How many rows of each kind a purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub auth_codes: usize,
    pub refresh_tokens: usize,
    pub sessions: usize,
    pub session_clients: usize,
    pub auth_requests: usize,
    pub revoked_tokens: usize,
    pub assertion_jtis: usize,
    pub webauthn_ceremonies: usize,
    pub pending_factors: usize,
}

impl Store {
    /// D3: removes what expired before `now` (sessions idle longer than `idle_secs` count as
    /// expired), in one transaction.
    pub fn purge_expired(&self, now: i64, idle_secs: i64) -> Result<Purged, StoreError> {
        self.db.write_tx(|conn| {
            let auth_codes = diesel::delete(auth_codes::table.filter(auth_codes::expires_at.lt(now - CODE_GRACE_SECS)))
                .execute(conn)
                .map_err(unavailable)?;
            // Expired refresh tokens cannot be replayed; rotated ones are kept until then.
            let refresh_tokens = diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(now)))
                .execute(conn)
                .map_err(unavailable)?;
            let gone = now - SESSION_GRACE_SECS;
            let sessions = diesel::delete(
                sessions::table.filter(
                    sessions::expires_at
                        .lt(gone)
                        .or(sessions::ended_at.lt(gone))
                        .or(sessions::last_seen_at.lt(gone - idle_secs)),
                ),
            )
            .execute(conn)
            .map_err(unavailable)?;
            let auth_requests = diesel::delete(auth_requests::table.filter(auth_requests::expires_at.lt(now)))
                .execute(conn)
                .map_err(unavailable)?;
            let revoked_tokens = diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now)))
                .execute(conn)
                .map_err(unavailable)?;
            let assertion_jtis =
                diesel::delete(client_assertion_jtis::table.filter(client_assertion_jtis::expires_at.lt(now)))
                    .execute(conn)
                    .map_err(unavailable)?;
            let session_clients = crate::session_end::purge_participants(conn)?;
            let webauthn_ceremonies =
                diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::expires_at.lt(now)))
                    .execute(conn)
                    .map_err(unavailable)?;
            let pending_factors = diesel::delete(
                mfa_factors::table
                    .filter(mfa_factors::confirmed.eq(false))
                    .filter(mfa_factors::created_at.lt(now - PENDING_FACTOR_SECS)),
            )
            .execute(conn)
            .map_err(unavailable)?;
            Ok(Purged {
                auth_codes,
                refresh_tokens,
                sessions,
                session_clients,
                auth_requests,
                revoked_tokens,
                assertion_jtis,
                webauthn_ceremonies,
                pending_factors,
            })
        })
    }
}
