//! Form parameters of token, introspection and revocation requests.

use gatehouse_types::{OAuthErrorCode, ProtocolError};

/// Decoded `application/x-www-form-urlencoded` parameters.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// RFC 6749 §3.1, §3.2: parameters must not repeat; a repeated one is `invalid_request`.
    pub fn parse(body: &[u8]) -> Result<Self, ProtocolError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if out.iter().any(|(seen, _)| *seen == k) {
                return Err(ProtocolError::new(OAuthErrorCode::InvalidRequest, "a parameter is repeated"));
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
}
