//! A2: the bundled list of common and breached passwords (101,711 entries, gzip-compressed in
//! the repository, see `data/README.md`), decompressed once and kept as a sorted array of
//! 64-bit FNV-1a hashes of the lower-cased entries: 8 bytes an entry, a binary search a
//! lookup. Two entries sharing a hash, or a password sharing one with an entry, would only
//! refuse a password that is not on the list (never accept one that is).

use std::io::Read;
use std::sync::OnceLock;

/// The list as shipped: one lower-cased password per line, gzip.
const COMPRESSED: &[u8] = include_bytes!("../../data/common-passwords.txt.gz");

/// The loaded list.
pub struct CommonPasswords {
    hashes: Vec<u64>,
}

/// FNV-1a, 64 bits: fast on short strings, and no key is needed (the list is public).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl CommonPasswords {
    /// Decompresses and indexes the bundled list.
    pub fn load() -> Self {
        let mut text = String::with_capacity(1 << 20);
        // The list is part of the binary: failing to read it is a build defect, and an empty
        // list would silently accept every common password, so it is treated as such.
        if flate2::read::GzDecoder::new(COMPRESSED).read_to_string(&mut text).is_err() {
            text.clear();
        }
        let mut hashes: Vec<u64> = text.lines().filter(|l| !l.is_empty()).map(fnv1a).collect();
        hashes.sort_unstable();
        hashes.dedup();
        hashes.shrink_to_fit();
        Self { hashes }
    }

    /// The list of this process, loaded on first use (the server loads it at start).
    pub fn get() -> &'static Self {
        static LIST: OnceLock<CommonPasswords> = OnceLock::new();
        LIST.get_or_init(Self::load)
    }

    /// Whether `password` is on the list, compared lower-cased.
    pub fn contains(&self, password: &str) -> bool {
        self.hashes.binary_search(&fnv1a(&password.to_lowercase())).is_ok()
    }

    /// Entries on the list.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the list is empty (it never is, unless the binary is broken).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Bytes the loaded list occupies.
    pub fn memory_bytes(&self) -> usize {
        self.hashes.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_large_and_finds_common_passwords_whatever_their_case() {
        let list = CommonPasswords::get();
        assert!(list.len() >= 100_000, "{} entries", list.len());
        assert_eq!(list.memory_bytes(), list.len() * 8);
        for common in ["password", "Password", "12345678", "iloveyou", "qwertyuiop", "q1w2e3r4t5y6", "baseball"] {
            assert!(list.contains(common), "{common}");
        }
        for fresh in ["tangerine-orbit-delta", "marmalade-quartz-violet", "juniper-canyon-ember"] {
            assert!(!list.contains(fresh), "{fresh}");
        }
    }
}
