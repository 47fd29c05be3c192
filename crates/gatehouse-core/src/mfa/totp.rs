//! RFC 6238 time-based one-time passwords (A5): 160-bit secrets (RFC 4226 §4), SHA-1, six
//! digits, 30-second steps, one step of clock skew either way (RFC 6238 §5.2), each step
//! accepted once. The secret is sealed at rest, bound to its factor (D1).

use gatehouse_types::Secret;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use totp_rs::{Builder, Totp};

use crate::UnixTime;
use crate::crypto::{CryptoError, KeyKind, Vault, random_bytes};

/// RFC 6238 §5.2: the step length.
pub const STEP_SECS: i64 = 30;

/// A new shared secret (RFC 4226 §4: 160 bits from a CSPRNG).
pub fn new_secret() -> Secret<Vec<u8>> {
    Secret::new(random_bytes::<20>().to_vec())
}

/// D1: the context a factor's secret is sealed under, so a sealed secret copied to another
/// factor or user does not open.
fn seal_context(tenant_id: &str, user_id: &str, factor_id: &str) -> Vec<u8> {
    [tenant_id, user_id, factor_id].join("\0").into_bytes()
}

/// D1: seals `secret` under the `totp` data key for one factor.
pub fn seal(
    vault: &Vault,
    tenant_id: &str,
    user_id: &str,
    factor_id: &str,
    secret: &Secret<Vec<u8>>,
) -> Result<Vec<u8>, CryptoError> {
    vault.seal(KeyKind::Totp, &seal_context(tenant_id, user_id, factor_id), secret.expose())
}

/// Opens a factor's sealed secret.
pub fn open(
    vault: &Vault,
    tenant_id: &str,
    user_id: &str,
    factor_id: &str,
    sealed: &[u8],
) -> Result<Secret<Vec<u8>>, CryptoError> {
    vault.open(KeyKind::Totp, &seal_context(tenant_id, user_id, factor_id), sealed)
}

fn generator(secret: &[u8]) -> Option<Totp> {
    Builder::new().with_secret(secret.to_vec()).with_skew(1).with_step_duration(30).with_digits(6).build().ok()
}

/// RFC 6238 §5.2: the step a six-digit `code` belongs to, when it is one of the current step
/// or the one before or after (clock skew); spaces in the code are ignored.
pub fn matching_step(secret: &Secret<Vec<u8>>, code: &str, now: UnixTime) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = u64::try_from(now.0).ok()?;
    generator(secret.expose())?.check(&code, now).and_then(|step| i64::try_from(step).ok())
}

/// RFC 6238 §5.2: a code is accepted once: its step must be later than the last accepted.
pub fn not_replayed(step: i64, last_step: Option<i64>) -> bool {
    last_step.is_none_or(|last| step > last)
}

/// The code of `secret` at `time` (what an authenticator app shows; tests use it too).
pub fn code_at(secret: &Secret<Vec<u8>>, time: UnixTime) -> String {
    let time = u64::try_from(time.0).unwrap_or_default();
    generator(secret.expose()).map(|t| t.generate(time).to_string()).unwrap_or_default()
}

/// The secret in base32 (RFC 4648 §6, unpadded), as authenticator apps take it typed in.
pub fn base32(secret: &Secret<Vec<u8>>) -> Secret<String> {
    Secret::new(totp_rs::Secret::new(secret.expose().clone().into_boxed_slice()).to_base32())
}

/// The secret read back from base32 (spaces and case ignored).
pub fn from_base32(text: &str) -> Option<Secret<Vec<u8>>> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    totp_rs::Secret::try_from_base32(clean).ok().map(|s| Secret::new(s.as_bytes().to_vec()))
}

/// The `otpauth://totp/` URI authenticator apps read from the QR code (Key Uri Format):
/// label `issuer:account`, the secret, the issuer again, and the RFC 6238 parameters.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &Secret<Vec<u8>>) -> Secret<String> {
    // A colon separates issuer and account in the label: none may appear inside either.
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    Secret::new(format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(&issuer),
        enc(&account),
        base32(secret).expose(),
        enc(&issuer)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 secret "12345678901234567890".
    fn rfc_secret() -> Secret<Vec<u8>> {
        Secret::new(b"12345678901234567890".to_vec())
    }

    #[test]
    fn rfc_6238_appendix_b_vectors_truncated_to_six_digits() {
        for (time, eight) in [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924")] {
            assert_eq!(code_at(&rfc_secret(), UnixTime(time)), eight[2..], "T = {time}");
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let s = rfc_secret();
        let now = UnixTime(1_234_567_890);
        let step = now.0 / STEP_SECS;
        assert_eq!(matching_step(&s, &code_at(&s, now), now), Some(step));
        assert_eq!(matching_step(&s, &code_at(&s, UnixTime(now.0 - 30)), now), Some(step - 1));
        assert_eq!(matching_step(&s, &code_at(&s, UnixTime(now.0 + 30)), now), Some(step + 1));
        assert_eq!(matching_step(&s, &code_at(&s, UnixTime(now.0 - 60)), now), None);
        assert_eq!(matching_step(&s, &code_at(&s, UnixTime(now.0 + 60)), now), None);
        let spaced = code_at(&s, now);
        assert_eq!(matching_step(&s, &format!("{} {}", &spaced[..3], &spaced[3..]), now), Some(step));
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"] {
            assert_eq!(matching_step(&s, bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn a_step_is_accepted_once() {
        assert!(not_replayed(10, None));
        assert!(not_replayed(11, Some(10)));
        assert!(!not_replayed(10, Some(10)));
        assert!(!not_replayed(9, Some(10)), "an earlier code after a later one");
    }

    #[test]
    fn the_uri_and_base32_carry_the_secret() {
        let s = rfc_secret();
        assert_eq!(base32(&s).expose(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap().expose(), s.expose());
        let uri = otpauth_uri("Acme: Corp", "alice", &s);
        assert_eq!(
            uri.expose(),
            "otpauth://totp/Acme%20%20Corp:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20%20Corp\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_factor() {
        let (master, _) = crate::crypto::MasterKey::generate();
        let keys: Vec<_> = KeyKind::ALL.into_iter().map(|k| master.new_data_key(k, 1).unwrap()).collect();
        let vault = Vault::unlock(&master, &keys).unwrap();
        let s = new_secret();
        let sealed = seal(&vault, "t", "u", "f", &s).unwrap();
        assert_eq!(open(&vault, "t", "u", "f", &sealed).unwrap().expose(), s.expose());
        assert!(open(&vault, "t", "u", "g", &sealed).is_err(), "another factor");
        assert!(open(&vault, "t", "v", "f", &sealed).is_err(), "another user");
    }
}
