//! Identifiers with an allowlisted character set (IO1): tenant slugs, usernames, role names,
//! e-mail addresses. Hazardous characters are refused with a message naming the rule.

use std::fmt;

/// Why an identifier was refused; the text names the rule, never echoes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    #[error("{what} must be between {min} and {max} characters")]
    Length { what: &'static str, min: usize, max: usize },
    #[error("{what} may contain only {allowed}")]
    Charset { what: &'static str, allowed: &'static str },
    #[error("{what} must start and end with a letter or digit")]
    Edge { what: &'static str },
    #[error("{what} is reserved")]
    Reserved { what: &'static str },
    #[error("email must look like name@domain.example")]
    EmailShape,
}

/// Checks the length and the allowlisted characters of an identifier (IO1).
fn check(
    value: &str,
    what: &'static str,
    (min, max): (usize, usize),
    allowed: &'static str,
    is_allowed: fn(char) -> bool,
) -> Result<(), IdentError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(IdentError::Length { what, min, max });
    }
    if !value.chars().all(is_allowed) {
        return Err(IdentError::Charset { what, allowed });
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(value.chars().next()) || !edge_ok(value.chars().last()) {
        return Err(IdentError::Edge { what });
    }
    Ok(())
}

macro_rules! ident_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

ident_type!(
    /// A tenant's slug: the last segment of its issuer URL, so URL-safe and lower case.
    TenantSlug
);
ident_type!(
    /// A username, unique within a tenant.
    Username
);
ident_type!(
    /// A role name, unique within a tenant; delivered in tokens (AC5).
    RoleName
);
ident_type!(
    /// An e-mail address, stored lower-cased so uniqueness ignores case.
    Email
);

const SLUG_ALLOWED: &str = "lower-case letters, digits and '-'";
const USERNAME_ALLOWED: &str = "letters, digits, '.', '_', '-' and '@'";
const ROLE_ALLOWED: &str = "letters, digits, '.', '_', '-' and ':'";

/// Slugs that would collide with server paths.
const RESERVED_SLUGS: &[&str] = &["admin", "api", "static", "health", "metrics", "well-known"];

impl TenantSlug {
    /// Parses a slug: 2–63 of `[a-z0-9-]`, alphanumeric at both ends (IO1).
    pub fn parse(value: &str) -> Result<Self, IdentError> {
        let what = "tenant slug";
        check(value, what, (2, 63), SLUG_ALLOWED, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')?;
        if RESERVED_SLUGS.contains(&value) {
            return Err(IdentError::Reserved { what });
        }
        Ok(Self(value.to_owned()))
    }
}

impl Username {
    /// The form a username is stored and looked up in: Unicode NFKC (so look-alike
    /// compatibility characters such as full-width letters become plain ones), then lower
    /// case. `Alice`, `ALICE` and `ａｌｉｃｅ` are one username.
    pub fn normalize(value: &str) -> String {
        use unicode_normalization::UnicodeNormalization;
        value.nfkc().collect::<String>().to_lowercase()
    }

    /// Parses a username, normalized (see [`Username::normalize`]): 1–64 of `[a-z0-9._@-]`,
    /// alphanumeric at both ends (IO1).
    pub fn parse(value: &str) -> Result<Self, IdentError> {
        let value = Self::normalize(value);
        check(&value, "username", (1, 64), USERNAME_ALLOWED, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@')
        })?;
        Ok(Self(value))
    }
}

impl RoleName {
    /// Parses a role name: 1–64 of `[A-Za-z0-9._:-]`, alphanumeric at both ends (IO1).
    pub fn parse(value: &str) -> Result<Self, IdentError> {
        check(value, "role name", (1, 64), ROLE_ALLOWED, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')
        })?;
        Ok(Self(value.to_owned()))
    }
}

impl Email {
    /// Parses an address of the form `local@domain` with a dotted domain and no spaces,
    /// quotes or angle brackets; at most 254 characters (RFC 5321 §4.5.3.1.3) (IO1).
    pub fn parse(value: &str) -> Result<Self, IdentError> {
        if value.is_empty() || value.len() > 254 {
            return Err(IdentError::Length { what: "email", min: 3, max: 254 });
        }
        let (local, domain) = value.rsplit_once('@').ok_or(IdentError::EmailShape)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let domain_ok = domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && domain.split('.').all(|l| !l.is_empty())
            && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !local_ok || !domain_ok {
            return Err(IdentError::EmailShape);
        }
        Ok(Self(value.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(TenantSlug::parse("acme").is_ok());
        assert!(TenantSlug::parse("acme-2").is_ok());
        for bad in ["", "a", "Acme", "acme_", "-acme", "acme-", "ac me", "a/b", "admin", "ac<me"] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames() {
        assert!(Username::parse("alice.smith@corp").is_ok());
        for bad in ["", "alice smith", "<script>", "al'ice", ".alice", "ålice"] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Username::parse("a b").unwrap_err().to_string(),
            "username may contain only letters, digits, '.', '_', '-' and '@'"
        );
    }

    #[test]
    fn usernames_are_one_whatever_their_case_or_compatibility_form() {
        for same in ["alice", "Alice", "ALICE", "\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}", "\u{ff21}lice"] {
            assert_eq!(Username::parse(same).map(|u| u.0), Ok("alice".to_owned()), "{same:?}");
        }
        assert_eq!(Username::normalize("Bob.Smith@Corp"), "bob.smith@corp");
        assert!(Username::parse("al\u{0131}ce").is_err(), "a dotless i stays a different letter, and is refused");
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse("Alice@Example.COM").map(|e| e.0), Ok("alice@example.com".into()));
        for bad in ["", "alice", "alice@", "@example.com", "alice@localhost", "a b@x.com", "<a>@x.com", "a@x..com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
