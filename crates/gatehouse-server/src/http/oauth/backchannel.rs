//! Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 §2.5, §2.8; S6). The
//! store queues a notice per participating client whenever a session ends, whoever ends it;
//! every node delivers what is due: at once when it ended the session itself
//! ([`AppState::wake_logout_delivery`]), otherwise at the next poll. A notice is claimed by one
//! node at a time, retried with a growing delay, and each attempt is audited.

use std::time::Duration;

use actix_web::web;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::flow::logout_token;
use gatehouse_core::store::{LogoutNotice, LogoutNoticeStore};
use gatehouse_types::ProtocolError;
use serde_json::json;

use super::context::blocking;
use crate::state::AppState;

/// Attempts before a notice is given up.
pub const MAX_ATTEMPTS: i32 = 6;
/// Notices taken per look.
const BATCH: i64 = 50;

/// Seconds until the attempt after attempt number `attempts` (30 s, doubling, ≤ 32 min).
fn retry_delay(attempts: i32) -> i64 {
    30 << attempts.clamp(0, 6)
}

/// Delivers due notices whenever woken, and every `poll` in any case.
pub async fn run(state: web::Data<AppState>, poll: Duration) {
    loop {
        if let Err(e) = deliver_due(&state).await {
            tracing::error!(error = %e, "back-channel logout delivery failed");
        }
        tokio::select! {
            () = state.logout_wakeup.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// What one attempt came to.
enum Attempt {
    /// The client acknowledged (or has no back-channel URI, or is gone): done.
    Done(Option<u16>),
    /// Not acknowledged; `Some(status)` when the client answered.
    Failed(Option<u16>),
}

/// Delivers every notice due now that this node can claim.
async fn deliver_due(state: &AppState) -> Result<(), ProtocolError> {
    loop {
        let now = UnixTime::now().0;
        let store = state.store.clone();
        let due = blocking(move || store.due_logout_notices(now, BATCH)).await?;
        let full = due.len() as i64 == BATCH;
        for notice in due {
            let (store, id) = (state.store.clone(), notice.id.clone());
            let retry_at = now + retry_delay(notice.attempts);
            if !blocking(move || store.claim_logout_notice(&id, now, retry_at)).await? {
                continue;
            }
            let attempt = deliver(state, &notice).await?;
            let last = notice.attempts + 1 >= MAX_ATTEMPTS;
            let (outcome, status, finished) = match attempt {
                Attempt::Done(status) => (Outcome::Success, status, true),
                Attempt::Failed(status) => (Outcome::Failure, status, last),
            };
            if finished {
                let (store, id) = (state.store.clone(), notice.id.clone());
                blocking(move || store.finish_logout_notice(&id)).await?;
            }
            if outcome == Outcome::Failure {
                tracing::warn!(client = %notice.client_id, given_up = last, "back-channel logout not acknowledged");
            }
            let mut event = AuditEvent::new("system", "logout.backchannel")
                .tenant(&notice.tenant_id)
                .target(format!("client:{}", notice.client_id))
                .details(json!({
                    "sid": notice.sid,
                    "status": status,
                    "attempt": notice.attempts + 1,
                    "given_up": outcome == Outcome::Failure && last,
                }));
            event.outcome = outcome;
            state.audit(event).await?;
        }
        if !full {
            return Ok(());
        }
    }
}

/// One attempt: a logout token signed for the client, POSTed to its back-channel URI.
async fn deliver(state: &AppState, notice: &LogoutNotice) -> Result<Attempt, ProtocolError> {
    let Some(tenant) = state.tenant(&notice.tenant_slug).await? else { return Ok(Attempt::Done(None)) };
    let Some(client) = state.client(&tenant.tenant.id, &notice.client_id).await? else {
        return Ok(Attempt::Done(None));
    };
    let Some(uri) = client.backchannel_logout_uri.clone() else { return Ok(Attempt::Done(None)) };
    let keys = state.keys(&tenant.tenant.id, client.signing_alg).await?;
    let Some(signer) = keys.keys.signer(client.signing_alg) else { return Ok(Attempt::Failed(None)) };
    let token =
        logout_token::sign(signer, &tenant.issuer, &client.client_id, &notice.user_id, &notice.sid, UnixTime::now())
            .map_err(ProtocolError::server)?;
    let sent = state.outbound.post(&uri).form(&[("logout_token", token.as_str())]).send().await;
    // §2.8: the RP answers 200 (or 204); anything else is a failed delivery.
    Ok(match sent {
        Ok(r) if r.status().is_success() => Attempt::Done(Some(r.status().as_u16())),
        Ok(r) => Attempt::Failed(Some(r.status().as_u16())),
        Err(_) => Attempt::Failed(None),
    })
}
