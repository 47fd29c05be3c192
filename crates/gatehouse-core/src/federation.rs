//! O8: federation with upstream OpenID Connect providers. An upstream is configured per tenant
//! (`upstream`); its client secret is sealed at rest (D1).

pub mod upstream;

pub use upstream::{LinkPolicy, LinkedIdentity, Upstream, UpstreamSettings};
