//! Token revocation (RFC 7009; O5).

use gatehouse_types::{OAuthErrorCode, ProtocolError};
use serde_json::json;

use super::introspect::ActiveToken;
use crate::audit::AuditEvent;

/// RFC 7009 §2.1: a client may revoke only tokens issued to it.
pub fn check_owner(token: &ActiveToken, client_id: &str) -> Result<(), ProtocolError> {
    if token.client_id != client_id {
        return Err(ProtocolError::new(OAuthErrorCode::UnauthorizedClient, "the token was not issued to this client"));
    }
    Ok(())
}

/// The audit record of a revocation.
pub fn audit(tenant_id: &str, client_id: &str, token: &ActiveToken) -> AuditEvent {
    AuditEvent::new(format!("client:{client_id}"), "token.revoke")
        .tenant(tenant_id)
        .target(format!("token:{}", token.jti))
        .details(json!({ "kind": "access_token" }))
}
