//! O8: federation with upstream OpenID Connect providers. An upstream is configured per tenant
//! (`upstream`); its client secret is sealed at rest (D1).

pub mod account;
pub mod rules;
pub mod upstream;

pub use account::{Resolution, UpstreamClaims, resolve};
pub use rules::RoleRule;
pub use upstream::{LinkPolicy, LinkedIdentity, Upstream, UpstreamAuth, UpstreamSettings};
