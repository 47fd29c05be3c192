//! Maps `ProtocolError` to RFC-exact responses (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1).
//! The body carries the fixed public description only; the detail goes to the log.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use gatehouse_types::{OAuthErrorCode, ProtocolError};

use crate::http::errors::PublicBody;

/// The HTTP status of each error code.
pub fn status_of(code: OAuthErrorCode) -> StatusCode {
    match code {
        OAuthErrorCode::InvalidClient | OAuthErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        OAuthErrorCode::InsufficientScope | OAuthErrorCode::AccessDenied => StatusCode::FORBIDDEN,
        OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Adds the no-caching headers every token-endpoint response carries (RFC 6749 §5.1).
pub fn no_store(res: &mut HttpResponse) {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The JSON error response; `invalid_client` is 401 with a Basic challenge (RFC 6749 §5.2).
pub fn response(err: &ProtocolError) -> HttpResponse {
    if err.code == OAuthErrorCode::ServerError {
        tracing::error!(error = %err.detail, "protocol request failed");
    } else {
        tracing::info!(error = err.code.as_str(), detail = %err.detail, "protocol request refused");
    }
    let mut res = HttpResponse::build(status_of(err.code))
        .json(serde_json::json!({ "error": err.code.as_str(), "error_description": err.description }));
    if err.code == OAuthErrorCode::InvalidClient {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"gatehouse\""));
    }
    no_store(&mut res);
    res.extensions_mut().insert(PublicBody);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        use OAuthErrorCode::*;
        let table = [
            (InvalidRequest, 400),
            (InvalidClient, 401),
            (InvalidGrant, 400),
            (UnauthorizedClient, 400),
            (UnsupportedGrantType, 400),
            (InvalidScope, 400),
            (UnsupportedTokenType, 400),
            (ServerError, 500),
            (TemporarilyUnavailable, 503),
            (InvalidToken, 401),
            (InsufficientScope, 403),
        ];
        for (code, status) in table {
            assert_eq!(status_of(code).as_u16(), status, "{code:?}");
        }
        let r = response(&ProtocolError::new(InvalidClient, "client authentication failed"));
        assert_eq!(r.headers().get(header::WWW_AUTHENTICATE).unwrap(), "Basic realm=\"gatehouse\"");
        assert_eq!(r.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
    }
}
