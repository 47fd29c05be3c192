//! OAuth 2.0 vocabulary: client types, grant types, scopes (RFC 6749).

use std::collections::BTreeSet;
use std::fmt;

/// RFC 6749 §2.1 client types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    Public,
    Confidential,
}

impl ClientType {
    /// Parses `public` or `confidential`.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value {
            "public" => Ok(Self::Public),
            "confidential" => Ok(Self::Confidential),
            _ => Err("client type must be 'public' or 'confidential'"),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Confidential => "confidential",
        }
    }
}

/// The grants Gatehouse issues tokens for (O3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    /// Parses a grant type name (RFC 6749 §4); anything else is unsupported.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            _ => Err("grant must be one of authorization_code, refresh_token, client_credentials"),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One scope token: `1*NQCHAR` (RFC 6749 §3.3), at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Scope(String);

impl Scope {
    /// Parses a scope token per RFC 6749 §3.3 (`%x21 / %x23-5B / %x5D-7E`).
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let nqchar = |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
        if value.is_empty() || value.len() > 128 || !value.bytes().all(nqchar) {
            return Err("scope must be 1-128 printable characters without spaces, '\"' or '\\'");
        }
        Ok(Self(value.to_owned()))
    }

    /// The scope as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A set of scopes, kept sorted so its text form is canonical.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Parses a space-delimited scope list (RFC 6749 §3.3); empty tokens from repeated spaces
    /// are refused rather than ignored.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        if value.is_empty() {
            return Ok(Self::default());
        }
        value.split(' ').map(Scope::parse).collect::<Result<_, _>>().map(Self)
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    /// Iterates over the scopes in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_sets_are_canonical() {
        let s = ScopeSet::parse("profile openid email").unwrap();
        assert_eq!(s.to_string(), "email openid profile");
        assert!(ScopeSet::parse("openid  profile").is_err());
        assert!(ScopeSet::parse("open\"id").is_err());
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn grants() {
        assert_eq!(GrantType::parse("client_credentials"), Ok(GrantType::ClientCredentials));
        assert!(GrantType::parse("password").is_err());
        assert!(GrantType::parse("implicit").is_err());
    }
}
