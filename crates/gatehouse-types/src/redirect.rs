//! Redirect URIs are parsed, never string-prefix matched (IO1, RFC 6749 §3.1.2, RFC 8252 §7).

use std::fmt;

use url::{Host, Url};

/// Why a redirect URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI must be an absolute URL")]
    NotAbsolute,
    #[error("redirect URI must not contain a fragment (RFC 6749 §3.1.2)")]
    Fragment,
    #[error("redirect URI must use https, or http on a loopback address (RFC 8252 §7.3)")]
    InsecureScheme,
    #[error("redirect URI must not carry user credentials")]
    Userinfo,
    #[error("redirect URI is longer than 2000 characters")]
    TooLong,
}

/// A registered or presented redirect URI; compared exactly, as parsed text (O2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Parses a redirect URI: absolute, no fragment, no userinfo, and https, or http only for
    /// loopback hosts (RFC 8252 §7.3), or a private-use scheme with a dot (RFC 8252 §7.1).
    pub fn parse(value: &str) -> Result<Self, RedirectUriError> {
        if value.len() > 2000 {
            return Err(RedirectUriError::TooLong);
        }
        let url = Url::parse(value).map_err(|_| RedirectUriError::NotAbsolute)?;
        if url.fragment().is_some() || value.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError::Userinfo);
        }
        match url.scheme() {
            "https" if url.host().is_some() => {}
            "http" if is_loopback(&url) => {}
            scheme if scheme.contains('.') && !url.cannot_be_a_base() => {}
            "http" | "https" => return Err(RedirectUriError::InsecureScheme),
            _ => return Err(RedirectUriError::InsecureScheme),
        }
        // Keep the text as given: exact string comparison is what RFC 6749 §3.1.2.3 asks for.
        Ok(Self(value.to_owned()))
    }

    /// The URI as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Loopback hosts where plain http is acceptable for native apps (RFC 8252 §7.3).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_registered_forms() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?x=1",
            "http://127.0.0.1:8000/cb",
            "http://localhost:3000/cb",
            "http://[::1]/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_hazards() {
        assert_eq!(RedirectUri::parse("/callback"), Err(RedirectUriError::NotAbsolute));
        assert_eq!(RedirectUri::parse("not a url"), Err(RedirectUriError::NotAbsolute));
        assert_eq!(RedirectUri::parse("https://a.example/cb#frag"), Err(RedirectUriError::Fragment));
        assert_eq!(RedirectUri::parse("http://app.example.com/cb"), Err(RedirectUriError::InsecureScheme));
        assert_eq!(RedirectUri::parse("javascript:alert(1)"), Err(RedirectUriError::InsecureScheme));
        assert_eq!(RedirectUri::parse("https://u:p@a.example/"), Err(RedirectUriError::Userinfo));
    }
}
