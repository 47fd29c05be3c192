//! Multi-factor authentication (A5, A6, A7): TOTP, WebAuthn passkeys and recovery codes, the
//! tenant's MFA policy, and which sign-in step a factor still calls for. SMS is never a
//! factor (A5): there is no code for it.

pub mod recovery;
pub mod totp;

use serde::{Deserialize, Serialize};

use crate::flow::ACR_PASSWORD;

/// The `acr` of a sign-in with a second factor (or a passkey with user verification).
pub const ACR_MFA: &str = "urn:gatehouse:acr:mfa";

/// Discovery's `acr_values_supported`, weakest first.
pub const ACR_VALUES_SUPPORTED: [&str; 2] = [ACR_PASSWORD, ACR_MFA];

/// RFC 8176 §2: the authentication method reference values Gatehouse issues.
pub mod amr {
    /// Password.
    pub const PWD: &str = "pwd";
    /// One-time password (TOTP, and a recovery code, which is one).
    pub const OTP: &str = "otp";
    /// Proof of possession of a hardware-secured key (a device-bound passkey).
    pub const HWK: &str = "hwk";
    /// Proof of possession of a software-secured key (a synced passkey).
    pub const SWK: &str = "swk";
    /// More than one factor.
    pub const MFA: &str = "mfa";
}

/// A tenant's MFA policy (A6): whether its users may or must enrol a second factor.
/// Administrators of any level always need one, whatever the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaPolicy {
    /// Users are not offered enrolment (administrators still enrol; enrolled factors are
    /// still asked for: turning the policy off never weakens an account).
    Off,
    /// Users may enrol; whoever has a factor is asked for it.
    #[default]
    Optional,
    /// Every user enrols at the next sign-in and signs in with a factor.
    Required,
}

impl MfaPolicy {
    /// The policy named `value` (`off`, `optional`, `required`).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "off" => Some(Self::Off),
            "optional" => Some(Self::Optional),
            "required" => Some(Self::Required),
            _ => None,
        }
    }
}

/// Kinds of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// RFC 6238 time-based one-time passwords.
    Totp,
    /// A WebAuthn credential (passkey or security key).
    Passkey,
}

impl FactorKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Passkey => "passkey",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "totp" => Some(Self::Totp),
            "passkey" => Some(Self::Passkey),
            _ => None,
        }
    }
}

/// A user's second factor as stored. A TOTP factor is usable only once `confirmed` (A5: active
/// after a first valid code); its `secret` is sealed under the `totp` data key (D1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factor {
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub kind: FactorKind,
    /// Named by the user ("Phone", "YubiKey").
    pub name: String,
    pub confirmed: bool,
    /// TOTP: the sealed shared secret.
    pub secret: Option<Vec<u8>>,
    /// TOTP: the last time step accepted; a code of that step or an earlier one is refused.
    pub last_step: Option<i64>,
    /// Passkey: the credential id (base64url), unique in the tenant.
    pub credential_id: Option<String>,
    /// Passkey: the credential (public key, counter, transports) as webauthn-rs serializes it.
    pub credential: Option<String>,
    /// Passkey: the transports the browser reported at registration, comma-separated (a hint
    /// shown to the user; webauthn-rs keeps them only from attested registrations).
    pub transports: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// IO1: a factor's name is 1–64 printable characters without surrounding spaces.
pub fn check_factor_name(name: &str) -> Result<(), &'static str> {
    let n = name.chars().count();
    if n == 0 || n > 64 || name.chars().any(char::is_control) || name.trim() != name {
        return Err("the name must be 1 to 64 printable characters");
    }
    Ok(())
}

/// A6: whether a sign-in asked for a second factor through `acr_values` (OIDC Core §3.1.2.1).
pub fn acr_requests_mfa(acr_values: Option<&str>) -> bool {
    acr_values.is_some_and(|v| v.split(' ').any(|a| a == ACR_MFA))
}

/// A6: the `acr` a sign-in reached with the methods `amr`.
pub fn acr_of(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == amr::MFA) { ACR_MFA } else { ACR_PASSWORD }
}

/// RFC 8176: `amr` after `method` was presented on top of `amr`; `mfa` once a password and a
/// second factor (or a passkey, which verifies its user) are in.
pub fn with_method(amr: &[String], method: &str) -> Vec<String> {
    let mut out: Vec<String> = amr.iter().filter(|m| *m != amr::MFA).cloned().collect();
    if !out.iter().any(|m| m == method) {
        out.push(method.to_owned());
    }
    let possession = out.iter().any(|m| [amr::OTP, amr::HWK, amr::SWK].contains(&m.as_str()));
    if possession {
        out.push(amr::MFA.to_owned());
    }
    out
}

/// What a sign-in still needs in the way of a second factor (A6, A7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorNeed {
    /// Nothing more: the sign-in has one, or needs none.
    Satisfied,
    /// Present an enrolled factor.
    Present,
    /// Enrol one first (none enrolled, and one is required).
    Enrol,
}

/// A6, A7: a user with an enrolled factor always presents it; one without enrols where a
/// factor is required (administrators, the tenant's policy, or a client's `acr_values`).
pub fn factor_need(amr: &[String], has_factor: bool, required: bool) -> FactorNeed {
    if amr.iter().any(|m| m == amr::MFA) {
        FactorNeed::Satisfied
    } else if has_factor {
        FactorNeed::Present
    } else if required {
        FactorNeed::Enrol
    } else {
        FactorNeed::Satisfied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn amr_gains_mfa_with_a_second_factor_only() {
        assert_eq!(with_method(&[], amr::PWD), v(&["pwd"]));
        assert_eq!(with_method(&v(&["pwd"]), amr::OTP), v(&["pwd", "otp", "mfa"]));
        assert_eq!(with_method(&v(&["pwd"]), amr::HWK), v(&["pwd", "hwk", "mfa"]));
        assert_eq!(with_method(&[], amr::SWK), v(&["swk", "mfa"]), "a passkey verifies its user");
        assert_eq!(with_method(&v(&["pwd", "otp", "mfa"]), amr::OTP), v(&["pwd", "otp", "mfa"]));
        assert_eq!(acr_of(&v(&["pwd"])), ACR_PASSWORD);
        assert_eq!(acr_of(&v(&["pwd", "otp", "mfa"])), ACR_MFA);
    }

    #[test]
    fn whoever_has_a_factor_presents_it_and_whoever_must_enrols() {
        let pwd = v(&["pwd"]);
        assert_eq!(factor_need(&pwd, false, false), FactorNeed::Satisfied);
        assert_eq!(factor_need(&pwd, true, false), FactorNeed::Present);
        assert_eq!(factor_need(&pwd, false, true), FactorNeed::Enrol);
        assert_eq!(factor_need(&pwd, true, true), FactorNeed::Present);
        assert_eq!(factor_need(&v(&["pwd", "otp", "mfa"]), true, true), FactorNeed::Satisfied);
    }

    #[test]
    fn acr_values_ask_for_mfa_by_its_exact_name() {
        assert!(acr_requests_mfa(Some("urn:gatehouse:acr:mfa")));
        assert!(acr_requests_mfa(Some("urn:other urn:gatehouse:acr:mfa")));
        assert!(!acr_requests_mfa(Some("urn:gatehouse:acr:mfax")));
        assert!(!acr_requests_mfa(None));
    }

    #[test]
    fn policies_and_names_parse_strictly() {
        assert_eq!(MfaPolicy::parse("required"), Some(MfaPolicy::Required));
        assert_eq!(MfaPolicy::parse("REQUIRED"), None);
        assert!(check_factor_name("Phone").is_ok());
        for bad in ["", " Phone", "a\u{0}b", &"x".repeat(65)] {
            assert!(check_factor_name(bad).is_err(), "{bad:?}");
        }
    }
}
