//! A user's own account (A2, A8, A9, S8, AC3): single-use links, password changes with
//! history, profile and e-mail changes. Use cases take the store, the time and what the user
//! typed; the HTTP layer and the CLI only call them.

pub mod password;
pub mod tokens;

pub use password::{PasswordChange, check_new_password, password_expired};
pub use tokens::{TokenPurpose, UserToken, issue_token};

/// IO1: a display name is 0–100 printable characters without surrounding spaces.
pub fn check_display_name(name: &str) -> Result<(), &'static str> {
    if name.chars().count() > 100 || name.chars().any(char::is_control) || name.trim() != name {
        return Err("display name must be at most 100 printable characters without leading or trailing spaces");
    }
    Ok(())
}
