//! OAuth 2.0 endpoints' logic: each module is a list of named checks; the HTTP layer only
//! parses requests and maps `ProtocolError`s to responses.

pub mod access_token;
pub mod client_assertion;
pub mod client_auth;
pub mod client_credentials;
pub mod introspect;
pub mod params;
pub mod revoke;

pub use params::Params;
