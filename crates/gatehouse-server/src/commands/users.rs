//! `gatehouse user …`: create (A1, A2, AC4), unlock (A4), reset-password (A9).

use std::io::Read;

use anyhow::{Context, bail};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, CreateUser};
use gatehouse_core::password::PasswordHasher;
use gatehouse_types::Secret;
use serde_json::json;

use super::{Output, actor, store};
use crate::config::Config;

/// Reads the password from stdin, dropping one trailing newline.
pub(super) fn read_password() -> anyhow::Result<Secret<String>> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading the password from standard input")?;
    let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    if text.is_empty() {
        bail!("no password on standard input");
    }
    Ok(Secret::new(text.to_owned()))
}

pub(super) fn user_create(config: &Config, input: CreateUser) -> anyhow::Result<Output> {
    let store = store(config)?;
    let (m, t, p) = config.argon2;
    let hasher = PasswordHasher::new(m, t, p)?;
    let u = admin::create_user(&store, &hasher, &config.password_policy, &actor(), &input, UnixTime::now())?;
    let mut roles = input.roles.clone();
    roles.sort();
    roles.dedup();
    Ok(Output {
        text: format!("created user {} ({})", u.username, u.id),
        json: json!({ "id": u.id, "username": u.username, "email": u.email, "roles": roles }),
    })
}

/// A4: lifts an account's lockout.
pub(super) fn user_unlock(config: &Config, tenant: &str, username: &str) -> anyhow::Result<Output> {
    let store = store(config)?;
    let cleared = admin::unlock_user(&store, tenant, username, &actor())?;
    let text = if cleared {
        format!("lifted the lockout of {username} in {tenant}")
    } else {
        format!("{username} in {tenant} had no failed sign-ins to clear")
    };
    Ok(Output { text, json: json!({ "tenant": tenant, "username": username, "cleared": cleared }) })
}

/// A9: an operator resets a password; the user's sessions and refresh tokens end with it.
pub(super) fn user_reset_password(
    config: &Config,
    tenant: &str,
    username: &str,
    password: &Secret<String>,
    must_change_password: bool,
) -> anyhow::Result<Output> {
    let store = store(config)?;
    let (m, t, p) = config.argon2;
    let hasher = PasswordHasher::new(m, t, p)?;
    let policy = &config.password_policy;
    let reset = admin::reset_password(
        &store,
        &hasher,
        policy,
        &actor(),
        tenant,
        username,
        password,
        must_change_password,
        UnixTime::now(),
    )?;
    Ok(Output {
        text: format!(
            "new password for {username} in {tenant}; {} session(s) ended, {} refresh token(s) revoked",
            reset.sessions_ended, reset.refresh_tokens_revoked
        ),
        json: json!({
            "tenant": tenant,
            "username": username,
            "sessions_ended": reset.sessions_ended,
            "refresh_tokens_revoked": reset.refresh_tokens_revoked,
        }),
    })
}

/// D3: deletes a user with their personal data.
pub(super) fn user_delete(config: &Config, tenant: &str, username: &str) -> anyhow::Result<Output> {
    let store = store(config)?;
    admin::delete_user(&store, tenant, username, &actor(), UnixTime::now())?;
    Ok(Output {
        text: format!("deleted {username} from {tenant} with their sessions, tokens and consents"),
        json: json!({ "tenant": tenant, "username": username, "deleted": true }),
    })
}
