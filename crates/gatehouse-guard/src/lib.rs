//! Resource-server guard (G1–G4): validates Gatehouse access tokens and enforces scopes, roles,
//! tenant and authentication strength. The core is framework-neutral; `actix` (default
//! feature) adds an extractor and a middleware.

#[cfg(feature = "actix")]
pub mod actix;
mod claims;
mod config;
mod error;
mod guard;
mod introspection;
mod jwks;
mod policy;

pub use claims::Claims;
pub use config::GuardConfig;
pub use error::{AuthError, Challenge};
pub use guard::Guard;
pub use policy::Policy;

/// Seconds since the Unix epoch, for validation at a given time.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
