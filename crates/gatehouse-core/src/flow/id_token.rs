//! ID tokens (OIDC Core §2, §3.1.3.6; O4).

use serde::Serialize;

use crate::model::User;

/// The claims of an ID token; profile and email claims only when their scope was granted.
#[derive(Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub azp: &'a str,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    pub at_hash: String,
    pub sid: &'a str,
    pub acr: &'a str,
    pub amr: Vec<&'a str>,
    /// AC5: the user's roles in the tenant.
    pub roles: &'a [String],
    pub tenant: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// Profile and e-mail claims by scope (OIDC Core §5.4), shared by ID tokens and userinfo.
pub fn scoped_claims<'a>(user: &'a User, scope: &str) -> (Option<&'a str>, Option<&'a str>, Option<bool>) {
    let has = |s: &str| scope.split(' ').any(|x| x == s);
    let username = has("profile").then_some(user.username.as_str());
    // OIDC Core §5.1: whether the address was verified (self-registration confirmed it, an
    // administrator vouched for it, an upstream verified it); relying parties link by it (O8).
    let (email, verified) =
        if has("email") { (Some(user.email.as_str()), Some(user.email_verified)) } else { (None, None) };
    (username, email, verified)
}
