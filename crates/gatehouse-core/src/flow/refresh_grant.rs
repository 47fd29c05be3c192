//! The refresh-token grant (RFC 6749 §6; O3): rotated on every use; a token presented again
//! after rotation revokes its whole family (RFC 9700 §4.14.2).

use gatehouse_types::{OAuthErrorCode, ProtocolError, ScopeSet};

use crate::store::RefreshRecord;

/// The refused-grant error for every refresh failure; the detail says which.
pub const INVALID_REFRESH: ProtocolError =
    ProtocolError::new(OAuthErrorCode::InvalidGrant, "the refresh token is invalid, expired or revoked");

/// RFC 6749 §6: a narrower scope may be requested, never a wider one.
pub fn narrowed_scope(record: &RefreshRecord, requested: Option<&str>) -> Result<String, ProtocolError> {
    let Some(requested) = requested else { return Ok(record.scope.clone()) };
    let invalid = ProtocolError::new(OAuthErrorCode::InvalidScope, "the requested scope exceeds the original grant");
    let want = ScopeSet::parse(requested).map_err(|_| invalid.clone())?;
    let had = ScopeSet::parse(&record.scope).map_err(ProtocolError::server)?;
    if want.iter().any(|s| !had.contains(s.as_str())) {
        return Err(invalid);
    }
    Ok(want.to_string())
}
