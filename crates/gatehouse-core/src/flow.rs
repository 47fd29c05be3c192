//! The Authorization Code flow (O2, O3, O4, S1–S4): the authorize checks, the interaction
//! decision, sessions, codes, ID tokens, and the code and refresh grants.

pub mod authorize;
pub mod code_grant;
pub mod id_token;
pub mod interaction;
pub mod logout_token;
pub mod pkce;
pub mod refresh_grant;
pub mod session;

use aws_lc_rs::digest;

/// The SHA-256 of a secret value: what is stored for codes, refresh tokens and session ids.
pub fn secret_hash(value: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, value.as_bytes()).as_ref().to_vec()
}

/// The default `acr` of a password login.
pub const ACR_PASSWORD: &str = "urn:gatehouse:acr:pwd";
