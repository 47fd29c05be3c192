//! Mapping diesel errors to `StoreError`: constraint violations become the caller's fixed
//! text; anything else is `Unavailable` with the detail for the log.

use diesel::result::{DatabaseErrorKind, Error};
use gatehouse_core::StoreError;

/// Maps a diesel error, naming a unique violation with `conflict`.
pub(crate) fn map_err(conflict: &'static str) -> impl Fn(Error) -> StoreError {
    move |e| match e {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StoreError::Conflict(conflict),
        other => unavailable(other),
    }
}

/// Any other failure: unavailable, detail for the server log only.
pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// The unique constraint a violation names, lower-cased ("users.email", "users_tenant_id_email_key").
pub(crate) fn violated(e: &Error) -> Option<String> {
    match e {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            Some(info.constraint_name().map(str::to_owned).unwrap_or_else(|| info.message().to_owned()).to_lowercase())
        }
        _ => None,
    }
}
