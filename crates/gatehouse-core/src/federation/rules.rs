//! O8: role-mapping rules of an upstream. A rule grants a role when a claim of the upstream's
//! ID token holds a value; the rules are evaluated at every sign-in through the upstream, so a
//! role removed upstream goes here too. Only the roles the rules name are managed: others stay.

use std::collections::BTreeSet;
use std::fmt;

use gatehouse_types::RoleName;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::roles;

/// `claim=value:role`: grant `role` when the claim at the dotted path `claim` is `value`, or an
/// array holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRule {
    pub claim: String,
    pub value: String,
    pub role: String,
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError(pub &'static str);

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for RoleRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}:{}", self.claim, self.value, self.role)
    }
}

/// AC4: roles an upstream can never grant: an upstream never makes an administrator.
const ADMINISTRATIVE: [&str; 3] = [roles::PLATFORM_ADMIN, roles::TENANT_ADMIN, roles::HELPDESK];

impl RoleRule {
    /// IO1, AC4: parses `claim=value:role` (the role after the last `:`); the claim path is
    /// dotted names of `[A-Za-z0-9_-]`, the value 1–256 printable characters, the role a role
    /// name that is not administrative.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let shape = RuleError("a role rule is CLAIM=VALUE:ROLE, e.g. groups=engineering:staff");
        let (claim, rest) = text.split_once('=').ok_or(shape.clone())?;
        let (value, role) = rest.rsplit_once(':').ok_or(shape)?;
        let segment_ok =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if claim.len() > 128 || !claim.split('.').all(segment_ok) {
            return Err(RuleError("a rule's claim is a name or a dotted path of names"));
        }
        if value.is_empty() || value.chars().count() > 256 || value.chars().any(char::is_control) {
            return Err(RuleError("a rule's value is 1 to 256 printable characters"));
        }
        let role = RoleName::parse(role).map_err(|_| RuleError("a rule's role is not a valid role name"))?;
        if ADMINISTRATIVE.contains(&role.as_str()) {
            return Err(RuleError("an upstream cannot grant an administrative role"));
        }
        Ok(Self { claim: claim.to_owned(), value: value.to_owned(), role: role.as_str().to_owned() })
    }

    /// Whether the rule matches `claims` (the ID token's claims as JSON).
    pub fn matches(&self, claims: &Value) -> bool {
        let mut at = claims;
        for name in self.claim.split('.') {
            match at.get(name) {
                Some(next) => at = next,
                None => return false,
            }
        }
        match at {
            Value::String(s) => *s == self.value,
            Value::Array(items) => items.iter().any(|i| i.as_str() == Some(self.value.as_str())),
            _ => false,
        }
    }
}

/// O8: the roles a user holds after signing in through an upstream with `rules`: the roles the
/// rules manage are exactly those a matching rule grants; every other role of `held` stays.
pub fn roles_after(held: &[String], rules: &[RoleRule], claims: &Value) -> Vec<String> {
    let managed: BTreeSet<&str> = rules.iter().map(|r| r.role.as_str()).collect();
    let granted: BTreeSet<&str> = rules.iter().filter(|r| r.matches(claims)).map(|r| r.role.as_str()).collect();
    let kept = held.iter().map(String::as_str).filter(|r| !managed.contains(r));
    let all: BTreeSet<&str> = kept.chain(granted).collect();
    all.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_parse_and_administrative_roles_are_refused() {
        let r = RoleRule::parse("realm_access.roles=dev:ops:staff").unwrap();
        assert_eq!((r.claim.as_str(), r.value.as_str(), r.role.as_str()), ("realm_access.roles", "dev:ops", "staff"));
        assert_eq!(RoleRule::parse(&r.to_string()).unwrap(), r);
        for bad in ["groups", "groups=x", "=x:staff", "a..b=x:staff", "groups=:staff", "groups=x:", "g=x:bad role"] {
            assert!(RoleRule::parse(bad).is_err(), "{bad}");
        }
        for admin in ADMINISTRATIVE {
            assert!(RoleRule::parse(&format!("groups=x:{admin}")).is_err(), "{admin}");
        }
    }

    #[test]
    fn managed_roles_follow_the_claims_and_others_stay() {
        let rules = [RoleRule::parse("groups=eng:staff").unwrap(), RoleRule::parse("dept=ops:oncall").unwrap()];
        let held = vec!["oncall".to_owned(), "reader".to_owned()];
        let claims = json!({ "groups": ["eng", "x"], "dept": "sales" });
        assert_eq!(roles_after(&held, &rules, &claims), ["reader", "staff"], "oncall removed, staff granted");
        assert_eq!(roles_after(&held, &rules, &json!({})), ["reader"]);
        assert_eq!(roles_after(&held, &[], &claims), held, "no rules: nothing changes");
        assert!(!rules[0].matches(&json!({ "groups": "engineering" })), "exact values only");
        assert!(!rules[0].matches(&json!({ "groups": { "eng": true } })));
    }
}
