//! O8: which local account an upstream identity signs in as, and with which methods (A6).
//! Decided here without I/O from what the store found; the server carries it out.

use gatehouse_types::{Email, Username};
use serde_json::Value;

use super::upstream::{LinkPolicy, UpstreamSettings};
use crate::mfa::{ACR_MFA, amr};

/// What Gatehouse uses of a validated upstream ID token.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamClaims {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    /// Every claim, for the role rules.
    pub all: Value,
}

impl UpstreamClaims {
    /// Reads the claims of a validated ID token's payload.
    pub fn from_payload(all: Value) -> Option<Self> {
        let text = |k: &str| all.get(k).and_then(Value::as_str).map(str::to_owned);
        let subject = text("sub").filter(|s| !s.is_empty() && s.len() <= 255)?;
        let amr = all
            .get("amr")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).take(16).collect())
            .unwrap_or_default();
        Some(Self {
            email: text("email"),
            // OIDC Core §5.1: a boolean; anything else (absent, "true") is not a verification.
            email_verified: all.get("email_verified").and_then(Value::as_bool) == Some(true),
            name: text("name"),
            preferred_username: text("preferred_username"),
            acr: text("acr"),
            amr,
            subject,
            all,
        })
    }

    /// The address the upstream says it verified, if it is a valid one (whether to believe
    /// it is the upstream's `trusted_email`: see [`trusted_email`]).
    pub fn verified_email(&self) -> Option<String> {
        let e = self.email.as_deref().filter(|_| self.email_verified)?;
        Email::parse(e).ok().map(|e| e.as_str().to_owned())
    }
}

/// O8: the address an account may take from `claims`: verified by the upstream *and* the
/// upstream trusted to verify addresses; an untrusted upstream's claim proves nothing (its
/// users could claim anyone's address).
pub fn trusted_email(settings: &UpstreamSettings, claims: &UpstreamClaims) -> Option<String> {
    claims.verified_email().filter(|_| settings.trusted_email)
}

/// Where an upstream identity goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Already linked: sign in as this account.
    SignIn(String),
    /// O8 `verified-email`: link to this account (found by a verified address), then sign in.
    LinkByEmail(String),
    /// O8 `after-local-sign-in`: the user signs in locally once; the link is made then.
    AskLocalSignIn,
    /// Just-in-time provisioning: a new account.
    Provision,
    /// Nothing may be done with this identity.
    Refuse(&'static str),
}

/// What the store found for an unknown identity's verified address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressOwner {
    pub user_id: String,
    /// AC4: the account holds an administrative role.
    pub administrator: bool,
    pub disabled: bool,
}

/// O8: the way of an identity: linked, or under the upstream's link policy, or provisioned.
/// Linking by e-mail needs a trusted upstream, `email_verified` true, and never reaches an
/// administrator's account (the account-takeover class: such accounts link by local sign-in).
pub fn resolve(
    settings: &UpstreamSettings,
    linked: Option<String>,
    address_owner: Option<&AddressOwner>,
) -> Resolution {
    if let Some(user) = linked {
        return Resolution::SignIn(user);
    }
    match (settings.link, address_owner) {
        (LinkPolicy::VerifiedEmail, Some(owner)) if settings.trusted_email && !owner.disabled => {
            if owner.administrator {
                return Resolution::AskLocalSignIn;
            }
            return Resolution::LinkByEmail(owner.user_id.clone());
        }
        (LinkPolicy::AfterLocalSignIn, _) if address_owner.is_some() || !settings.jit => {
            return Resolution::AskLocalSignIn;
        }
        _ => {}
    }
    if address_owner.is_some() && settings.trusted_email {
        // Never a second account with another's address, never a silent link. (An untrusted
        // upstream's address is not taken at all: its account gets a placeholder.)
        return Resolution::Refuse("an account with this e-mail address exists");
    }
    if settings.jit { Resolution::Provision } else { Resolution::Refuse("no linked account and provisioning is off") }
}

/// Multi-factor `acr` values of other providers that a trusted upstream's sign-in may carry.
const MFA_ACRS: [&str; 2] = [ACR_MFA, "http://schemas.openid.net/pape/policies/2007/06/multi-factor"];

/// RFC 8176: whether the upstream's `amr`/`acr` say its sign-in took more than one factor.
pub fn upstream_mfa(claims: &UpstreamClaims) -> bool {
    let has = |m: &str| claims.amr.iter().any(|a| a == m);
    let possession = ["otp", "hwk", "swk", "sms", "tel", "sc"].iter().any(|m| has(m));
    has(amr::MFA)
        || (possession && claims.amr.len() > 1)
        || claims.acr.as_deref().is_some_and(|acr| MFA_ACRS.contains(&acr))
}

/// The methods (RFC 8176) of a sign-in through an upstream: `fed`, and `mfa` when the upstream
/// is trusted for it and its sign-in took more than one factor (A6).
pub fn methods(settings: &UpstreamSettings, claims: &UpstreamClaims) -> Vec<String> {
    let mut out = vec![FED.to_owned()];
    if settings.trust_mfa && upstream_mfa(claims) {
        out.push(amr::MFA.to_owned());
    }
    out
}

/// The `amr` value of a federated sign-in.
pub const FED: &str = "fed";

/// A username for a provisioned account: the upstream's `preferred_username` if it is valid
/// (and `free` says it is free), else `{upstream}-{12 hex digits of the subject's hash}`.
pub fn username_for(upstream: &str, claims: &UpstreamClaims, free: impl Fn(&str) -> bool) -> String {
    if let Some(u) = claims.preferred_username.as_deref().and_then(|p| Username::parse(p).ok())
        && free(u.as_str())
    {
        return u.as_str().to_owned();
    }
    let digest = crate::flow::secret_hash(&format!("{upstream}\0{}", claims.subject));
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{upstream}-{hex}")
}

/// The address of a provisioned account: the trusted verified one, else one under `.invalid`
/// (RFC 2606: never delivered) that is unique to the identity.
pub fn address_for(upstream: &str, settings: &UpstreamSettings, claims: &UpstreamClaims) -> String {
    trusted_email(settings, claims).unwrap_or_else(|| {
        let digest = crate::flow::secret_hash(&format!("{upstream}\0{}", claims.subject));
        let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("{hex}@{upstream}.upstream.invalid")
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn settings(link: LinkPolicy, trusted_email: bool, jit: bool) -> UpstreamSettings {
        UpstreamSettings { link, trusted_email, jit, ..UpstreamSettings::default() }
    }

    fn owner(administrator: bool) -> AddressOwner {
        AddressOwner { user_id: "u1".into(), administrator, disabled: false }
    }

    #[test]
    fn a_linked_identity_signs_in_whatever_the_policy() {
        let s = settings(LinkPolicy::Never, false, false);
        assert_eq!(resolve(&s, Some("u9".into()), Some(&owner(false))), Resolution::SignIn("u9".into()));
    }

    #[test]
    fn linking_by_e_mail_needs_the_policy_and_a_trusted_upstream_and_never_reaches_an_administrator() {
        let s = settings(LinkPolicy::VerifiedEmail, true, true);
        assert_eq!(resolve(&s, None, Some(&owner(false))), Resolution::LinkByEmail("u1".into()));
        assert_eq!(resolve(&s, None, Some(&owner(true))), Resolution::AskLocalSignIn);
        assert_eq!(resolve(&s, None, None), Resolution::Provision);
        let untrusted = settings(LinkPolicy::VerifiedEmail, false, true);
        // (A configuration the admin use case refuses; were it stored, nothing would link.)
        assert_eq!(resolve(&untrusted, None, Some(&owner(false))), Resolution::Provision, "never linked");
        let never = settings(LinkPolicy::Never, true, true);
        assert!(matches!(resolve(&never, None, Some(&owner(false))), Resolution::Refuse(_)), "no silent link");
        let untrusted_never = settings(LinkPolicy::Never, false, true);
        assert_eq!(resolve(&untrusted_never, None, Some(&owner(false))), Resolution::Provision, "address not taken");
        assert_eq!(resolve(&never, None, None), Resolution::Provision);
        assert!(matches!(resolve(&settings(LinkPolicy::Never, true, false), None, None), Resolution::Refuse(_)));
    }

    #[test]
    fn after_local_sign_in_asks_when_an_account_may_exist() {
        let s = settings(LinkPolicy::AfterLocalSignIn, false, true);
        assert_eq!(resolve(&s, None, Some(&owner(false))), Resolution::AskLocalSignIn);
        assert_eq!(resolve(&s, None, None), Resolution::Provision);
        assert_eq!(
            resolve(&settings(LinkPolicy::AfterLocalSignIn, false, false), None, None),
            Resolution::AskLocalSignIn
        );
    }

    #[test]
    fn upstream_mfa_counts_only_when_trusted_and_claimed() {
        let c = |amr: serde_json::Value, acr: &str| {
            UpstreamClaims::from_payload(json!({ "sub": "s", "amr": amr, "acr": acr })).unwrap()
        };
        let trusted = UpstreamSettings { trust_mfa: true, ..UpstreamSettings::default() };
        assert_eq!(methods(&trusted, &c(json!(["pwd", "otp"]), "")), ["fed", "mfa"]);
        assert_eq!(methods(&trusted, &c(json!(["mfa"]), "")), ["fed", "mfa"]);
        assert_eq!(methods(&trusted, &c(json!(["pwd"]), ACR_MFA)), ["fed", "mfa"]);
        assert_eq!(methods(&trusted, &c(json!(["pwd"]), "urn:x")), ["fed"]);
        assert_eq!(methods(&trusted, &c(json!(["otp"]), "")), ["fed"], "one factor alone");
        assert_eq!(methods(&UpstreamSettings::default(), &c(json!(["mfa"]), ACR_MFA)), ["fed"], "not trusted");
    }

    #[test]
    fn claims_read_and_provisioned_names_are_valid() {
        assert!(UpstreamClaims::from_payload(json!({ "sub": "" })).is_none());
        let c = UpstreamClaims::from_payload(
            json!({ "sub": "abc", "email": "Ann@Example.com", "email_verified": "true", "preferred_username": "Ann Lee" }),
        )
        .unwrap();
        assert_eq!(c.verified_email(), None, "a string is not a verification");
        let name = username_for("corp", &c, |_| true);
        assert!(Username::parse(&name).is_ok() && name.starts_with("corp-"), "{name}");
        let trusted = UpstreamSettings { trusted_email: true, ..UpstreamSettings::default() };
        let address = address_for("corp", &trusted, &c);
        assert!(address.ends_with("@corp.upstream.invalid") && Email::parse(&address).is_ok(), "{address}");
        let v = UpstreamClaims::from_payload(
            json!({ "sub": "abc", "email": "ann@example.com", "email_verified": true, "preferred_username": "ann" }),
        )
        .unwrap();
        assert_eq!(username_for("corp", &v, |_| true), "ann");
        assert_ne!(username_for("corp", &v, |_| false), "ann", "taken");
        assert_eq!(address_for("corp", &trusted, &v), "ann@example.com");
        assert!(address_for("corp", &UpstreamSettings::default(), &v).ends_with(".invalid"), "not trusted");
    }
}
