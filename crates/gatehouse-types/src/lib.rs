//! Protocol vocabulary of Gatehouse: identifiers, redirect URIs, scopes, grant types and the
//! `Secret` wrapper. Every type is built by a validating `parse` that returns `Result` and never
//! panics (IO1); nothing here does I/O.

pub mod error;
pub mod ident;
pub mod oauth;
pub mod redirect;
pub mod secret;

pub use error::{OAuthErrorCode, ProtocolError};
pub use ident::{Email, IdentError, RoleName, TenantSlug, Username};
pub use oauth::{ClientType, GrantType, Scope, ScopeSet};
pub use redirect::{RedirectUri, RedirectUriError};
pub use secret::Secret;
