//! Form parameters of token, introspection and revocation requests.

use gatehouse_types::{OAuthErrorCode, ProtocolError};

/// Decoded `application/x-www-form-urlencoded` parameters.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

/// IO1: whether `text` holds a control character (NUL, line breaks, escapes, ...). No protocol
/// value may (RFC 6749 Appendix A allows printable characters only), and PostgreSQL refuses a
/// NUL in text outright.
pub fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

impl Params {
    /// RFC 6749 §3.1, §3.2: parameters must not repeat; a repeated one is `invalid_request`,
    /// and so is one with a control character in its name or value (IO1).
    pub fn parse(body: &[u8]) -> Result<Self, ProtocolError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if out.iter().any(|(seen, _)| *seen == k) {
                return Err(ProtocolError::new(OAuthErrorCode::InvalidRequest, "a parameter is repeated"));
            }
            if has_control(&k) || has_control(&v) {
                return Err(ProtocolError::new(
                    OAuthErrorCode::InvalidRequest,
                    "a parameter holds a control character",
                ));
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(Self(out))
    }

    /// A parameter's value; RFC 6749 §3.1: an empty value is treated as omitted.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// A required parameter, or `invalid_request` with `missing` as the public text.
    pub fn require(&self, name: &str, missing: &'static str) -> Result<&str, ProtocolError> {
        self.get(name).ok_or(ProtocolError::new(OAuthErrorCode::InvalidRequest, missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(Params::parse(b"grant_type=a&grant_type=b").is_err());
        let p = Params::parse(b"grant_type=client_credentials&scope=&x=%20y").unwrap();
        assert_eq!(p.get("grant_type"), Some("client_credentials"));
        assert_eq!(p.get("scope"), None);
        assert_eq!(p.get("x"), Some(" y"));
    }

    #[test]
    fn control_characters_are_refused() {
        for body in ["client_id=a%00b", "state=x%0Ay", "x%01=1", "a=%7F", "a=%C2%85"] {
            let e = Params::parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.code, OAuthErrorCode::InvalidRequest, "{body}");
        }
        assert!(Params::parse("state=caf%C3%A9+%E2%9C%93".as_bytes()).is_ok(), "other Unicode is fine");
    }
}
