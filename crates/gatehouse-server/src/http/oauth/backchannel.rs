//! Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 §2.5; S6): when a
//! session ends, every client that was issued tokens in it and registered a back-channel URI
//! gets a signed logout token. Delivery runs after the user's response, with a timeout, and
//! each outcome is audited.

use std::sync::Arc;

use actix_web::web;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::flow::logout_token;
use gatehouse_core::store::{FlowStore, SessionRecord};
use gatehouse_types::ProtocolError;
use serde_json::json;

use super::context::{TenantEntry, blocking};
use crate::state::AppState;

/// Sends the logout tokens for `session` in the background.
pub fn notify(state: web::Data<AppState>, tenant: Arc<TenantEntry>, session: SessionRecord) {
    actix_web::rt::spawn(async move {
        if let Err(e) = deliver(&state, &tenant, &session).await {
            tracing::error!(error = %e, "back-channel logout failed");
        }
    });
}

async fn deliver(state: &AppState, tenant: &TenantEntry, session: &SessionRecord) -> Result<(), ProtocolError> {
    let (store, t, sid) = (state.store.clone(), tenant.tenant.id.clone(), session.sid.clone());
    let client_ids = blocking(move || store.session_clients(&t, &sid)).await?;
    for client_id in client_ids {
        let Some(client) = state.client(&tenant.tenant.id, &client_id).await? else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else { continue };
        let keys = state.keys(&tenant.tenant.id, client.signing_alg).await?;
        let Some(signer) = keys.keys.signer(client.signing_alg) else { continue };
        let token = logout_token::sign(
            signer,
            &tenant.issuer,
            &client.client_id,
            &session.user_id,
            &session.sid,
            UnixTime::now(),
        )
        .map_err(ProtocolError::server)?;
        let sent = state.outbound.post(&uri).form(&[("logout_token", token.as_str())]).send().await;
        // §2.8: the RP answers 200 (or 204); anything else is a failed delivery.
        let outcome = match &sent {
            Ok(r) if r.status().is_success() => Outcome::Success,
            _ => Outcome::Failure,
        };
        if outcome == Outcome::Failure {
            tracing::warn!(client = %client.client_id, "back-channel logout not acknowledged");
        }
        let mut event = AuditEvent::new("system", "logout.backchannel")
            .tenant(&tenant.tenant.id)
            .target(format!("client:{}", client.client_id))
            .details(json!({ "sid": session.sid, "status": sent.as_ref().ok().map(|r| r.status().as_u16()) }));
        event.outcome = outcome;
        state.audit(event).await?;
    }
    Ok(())
}
