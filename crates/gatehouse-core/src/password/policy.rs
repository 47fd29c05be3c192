//! The password policy (A2). Every refusal names the rule that failed.

/// The rule a password failed (A2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRule {
    #[error("password must be at least {0} characters")]
    TooShort(usize),
    #[error("password must be at most {0} characters")]
    TooLong(usize),
    #[error("password is too common; choose another")]
    Common,
    #[error("password must not contain the username or e-mail name")]
    ContainsIdentity,
    #[error("password must contain at least {0} of: lower-case, upper-case, digit, symbol")]
    CharacterClasses(u8),
}

/// Password rules (A2). Defaults: at least 12, at most 128 characters, common passwords
/// refused, no character-class rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    pub min_classes: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 12, max_length: 128, min_classes: 0 }
    }
}

impl PasswordPolicy {
    /// Checks `password` against every rule, for a user called `identity` (username, e-mail).
    pub fn check(&self, password: &str, identity: &[&str]) -> Result<(), PasswordRule> {
        self.check_length(password)?;
        check_common(password)?;
        check_identity(password, identity)?;
        self.check_classes(password)
    }

    /// A2: minimum and maximum length, counted in characters.
    fn check_length(&self, password: &str) -> Result<(), PasswordRule> {
        let n = password.chars().count();
        if n < self.min_length {
            return Err(PasswordRule::TooShort(self.min_length));
        }
        if n > self.max_length {
            return Err(PasswordRule::TooLong(self.max_length));
        }
        Ok(())
    }

    /// A2: optional character-class rule.
    fn check_classes(&self, password: &str) -> Result<(), PasswordRule> {
        let classes = [
            password.chars().any(|c| c.is_lowercase()),
            password.chars().any(|c| c.is_uppercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_alphanumeric()),
        ];
        let have = classes.iter().filter(|&&b| b).count();
        if have < usize::from(self.min_classes) {
            return Err(PasswordRule::CharacterClasses(self.min_classes));
        }
        Ok(())
    }
}

/// A2: the bundled list of common and breached passwords, compared case-insensitively.
fn check_common(password: &str) -> Result<(), PasswordRule> {
    if super::common::CommonPasswords::get().contains(password) { Err(PasswordRule::Common) } else { Ok(()) }
}

/// A2: the password must not contain the user's own name (case-insensitive, 3+ characters).
fn check_identity(password: &str, identity: &[&str]) -> Result<(), PasswordRule> {
    let lower = password.to_lowercase();
    let leaks = identity
        .iter()
        .map(|id| id.split('@').next().unwrap_or(id).to_lowercase())
        .any(|id| id.chars().count() >= 3 && lower.contains(&id));
    if leaks { Err(PasswordRule::ContainsIdentity) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("short", &[]), Err(PasswordRule::TooShort(12)));
        assert_eq!(p.check(&"x".repeat(129), &[]), Err(PasswordRule::TooLong(128)));
        assert_eq!(p.check("Q1W2E3R4T5Y6", &[]), Err(PasswordRule::Common));
        assert_eq!(
            p.check("alice-has-a-long-one", &["alice", "alice@example.com"]),
            Err(PasswordRule::ContainsIdentity)
        );
        assert_eq!(p.check("tangerine-orbit-delta", &["alice"]), Ok(()));
        let strict = PasswordPolicy { min_classes: 3, ..p };
        assert_eq!(strict.check("tangerine-orbit-delta", &[]), Err(PasswordRule::CharacterClasses(3)));
        assert_eq!(strict.check("Tangerine-orbit-delta", &[]), Ok(()));
        assert_eq!(PasswordRule::TooShort(12).to_string(), "password must be at least 12 characters");
    }
}
