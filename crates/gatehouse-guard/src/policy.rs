//! Authorization policies (G2): scopes, roles, tenant, authentication strength and age.

use std::time::Duration;

use crate::claims::Claims;
use crate::error::AuthError;

/// What a route requires beyond a valid token. Every listed scope and role is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    scopes: Vec<String>,
    roles: Vec<String>,
    tenant: Option<String>,
    acr_values: Vec<String>,
    max_age: Option<Duration>,
}

impl Policy {
    /// A policy that only needs a valid token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires all of `scopes`.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Requires all of `roles`.
    pub fn roles(mut self, roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Requires the token's tenant to be `slug`.
    pub fn tenant(mut self, slug: impl Into<String>) -> Self {
        self.tenant = Some(slug.into());
        self
    }

    /// Requires `acr` to be one of `values` (e.g. only MFA levels).
    pub fn acr(mut self, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.acr_values.extend(values.into_iter().map(Into::into));
        self
    }

    /// Requires the user to have authenticated within `max_age` (`auth_time`, else `iat`).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Checks the claims at `now` (seconds); the first unmet requirement is the answer.
    pub fn check(&self, c: &Claims, now: i64) -> Result<(), AuthError> {
        if !self.scopes.iter().all(|s| c.has_scope(s)) {
            return Err(AuthError::InsufficientScope { scope: self.scopes.join(" ") });
        }
        if !self.roles.iter().all(|r| c.has_role(r)) {
            return Err(AuthError::Forbidden("missing role"));
        }
        if self.tenant.as_ref().is_some_and(|t| c.tenant.as_ref() != Some(t)) {
            return Err(AuthError::Forbidden("wrong tenant"));
        }
        if !self.acr_values.is_empty() && !c.acr.as_ref().is_some_and(|a| self.acr_values.contains(a)) {
            return Err(AuthError::StepUp { acr_values: Some(self.acr_values.join(" ")), max_age: None });
        }
        if let Some(max) = self.max_age {
            let authenticated = c.auth_time.unwrap_or(c.issued_at);
            if now - authenticated > max.as_secs() as i64 {
                return Err(AuthError::StepUp { acr_values: None, max_age: Some(max.as_secs()) });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims() -> Claims {
        let v = json!({ "sub": "u1", "client_id": "c", "scope": "reports:read openid", "roles": ["reader"], "tenant": "acme",
                        "acr": "urn:gatehouse:acr:pwd", "auth_time": 1000, "iat": 1100, "exp": 1400 });
        Claims::from_map(v.as_object().cloned().unwrap()).unwrap()
    }

    #[test]
    fn each_requirement() {
        let c = claims();
        assert_eq!(Policy::new().scopes(["reports:read"]).roles(["reader"]).tenant("acme").check(&c, 1200), Ok(()));
        assert_eq!(
            Policy::new().scopes(["reports:read", "reports:write"]).check(&c, 1200),
            Err(AuthError::InsufficientScope { scope: "reports:read reports:write".into() })
        );
        assert_eq!(Policy::new().roles(["admin"]).check(&c, 1200), Err(AuthError::Forbidden("missing role")));
        assert_eq!(Policy::new().tenant("globex").check(&c, 1200), Err(AuthError::Forbidden("wrong tenant")));
        assert!(matches!(Policy::new().acr(["urn:gatehouse:acr:mfa"]).check(&c, 1200), Err(AuthError::StepUp { .. })));
        assert_eq!(Policy::new().max_age(Duration::from_secs(300)).check(&c, 1200), Ok(()));
        assert!(matches!(
            Policy::new().max_age(Duration::from_secs(100)).check(&c, 1200),
            Err(AuthError::StepUp { max_age: Some(100), .. })
        ));
    }

    #[test]
    fn challenges_follow_rfc6750() {
        let c = AuthError::InsufficientScope { scope: "a b".into() }.challenge("api");
        assert_eq!(
            (c.status, c.www_authenticate.as_deref()),
            (403, Some("Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"a b\""))
        );
        let c = AuthError::InvalidToken("x").challenge("api");
        assert_eq!(
            (c.status, c.www_authenticate.as_deref()),
            (401, Some("Bearer realm=\"api\", error=\"invalid_token\""))
        );
        assert_eq!(AuthError::MissingToken.challenge("api").www_authenticate.as_deref(), Some("Bearer realm=\"api\""));
        assert_eq!(AuthError::Unavailable("x".into()).challenge("api").status, 503);
    }
}
