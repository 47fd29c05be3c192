//! Recovery codes (A5): ten single-use codes shown once when a factor is enrolled, stored as
//! keyed hashes. Each is 50 random bits in Crockford-like base32 without look-alike letters,
//! `xxxxx-xxxxx`; offline guessing needs the HMAC key, online guessing meets the lockout (A4).

use gatehouse_types::Secret;

use crate::crypto::{CryptoError, KeyKind, Vault, random_bytes};

/// How many codes a set holds.
pub const COUNT: usize = 10;

/// Digits and lowercase letters without `i`, `l`, `o`, `u` (32 symbols: 5 bits each).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Domain separation of the codes' keyed hash.
const LABEL: &[u8] = b"gatehouse-recovery-code-v1\0";

/// A fresh set of [`COUNT`] codes, as shown to the user.
pub fn generate() -> Vec<Secret<String>> {
    (0..COUNT)
        .map(|_| {
            let bytes = random_bytes::<10>();
            let chars: String = bytes.iter().map(|b| char::from(ALPHABET[usize::from(b % 32)])).collect();
            Secret::new(format!("{}-{}", &chars[..5], &chars[5..]))
        })
        .collect()
}

/// A typed code in its canonical form (lowercase, no dash or spaces; `i`/`l` read as 1 and
/// `o` as 0), or `None` when it cannot be a recovery code.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect();
    (code.len() == 10 && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// The stored form of a normalized code of one user: a keyed hash bound to tenant and user.
pub fn hash(vault: &Vault, tenant_id: &str, user_id: &str, normalized: &str) -> Result<Vec<u8>, CryptoError> {
    let mac = vault.keyed_hash(
        KeyKind::ClientSecrets,
        &[LABEL, tenant_id.as_bytes(), b"\0", user_id.as_bytes(), b"\0", normalized.as_bytes()],
    )?;
    Ok(mac.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_that_read_back() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let mut seen: Vec<String> = codes.iter().map(|c| normalize(c.expose()).unwrap()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), COUNT);
        for c in &codes {
            assert_eq!(c.expose().len(), 11);
            assert_eq!(&c.expose()[5..6], "-");
        }
    }

    #[test]
    fn typing_is_forgiving_and_nothing_else_passes() {
        assert_eq!(normalize("ABCDE-FGH12").as_deref(), Some("abcdefgh12"));
        assert_eq!(normalize(" abcde fgh1l ").as_deref(), Some("abcdefgh11"));
        assert_eq!(normalize("0o0o0-00000").as_deref(), Some("0000000000"));
        for bad in ["", "abcde-fgh1", "abcde-fgh123", "abcde-fghu2", "abcde_fgh12", "ａbcde-fgh12"] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hashes_are_bound_to_the_user() {
        let (master, _) = crate::crypto::MasterKey::generate();
        let keys: Vec<_> = KeyKind::ALL.into_iter().map(|k| master.new_data_key(k, 1).unwrap()).collect();
        let vault = Vault::unlock(&master, &keys).unwrap();
        let a = hash(&vault, "t", "u", "abcdefgh12").unwrap();
        assert_eq!(a, hash(&vault, "t", "u", "abcdefgh12").unwrap());
        assert_ne!(a, hash(&vault, "t", "v", "abcdefgh12").unwrap());
        assert_ne!(a, hash(&vault, "t2", "u", "abcdefgh12").unwrap());
    }
}
