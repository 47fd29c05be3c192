//! `gatehouse user …`: create and invite (A1, A2, A8, AC4), unlock (A4), reset-password (A9),
//! sessions and end-sessions (S8).

use std::io::Read;

use anyhow::{Context, bail};
use gatehouse_core::UnixTime;
use gatehouse_core::account::TokenPurpose;
use gatehouse_core::admin::{self, CreateUser};
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::model::User;
use gatehouse_core::password::PasswordHasher;
use gatehouse_core::store::TenantStore;
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
    let invited = input.password.is_none();
    if invited {
        invite(config, &store, &input.tenant, &u)?;
    }
    Ok(Output {
        text: if invited {
            format!("created user {} ({}); a set-password link is on its way to {}", u.username, u.id, u.email)
        } else {
            format!("created user {} ({})", u.username, u.id)
        },
        json: json!({ "id": u.id, "username": u.username, "email": u.email, "roles": roles, "invited": invited }),
    })
}

/// A8: queues a set-password link (72 hours) for `user`; earlier ones stop working.
fn invite(config: &Config, store: &gatehouse_store::Store, tenant: &str, user: &User) -> anyhow::Result<()> {
    let t = store.tenant_by_slug(tenant)?.context("unknown tenant")?;
    let audit = AuditEvent::new(actor(), "user.invite").tenant(&t.id).target(format!("user:{}", user.id));
    crate::mail::send_link(
        store,
        &config.mail,
        &config.public_url,
        &t,
        user,
        TokenPurpose::Invite,
        &user.email,
        "",
        &audit,
        UnixTime::now(),
    )?;
    Ok(())
}

/// A8: mails a new set-password link to a user who has no password yet.
pub(super) fn user_invite(config: &Config, tenant: &str, username: &str) -> anyhow::Result<Output> {
    let store = store(config)?;
    let t = store.tenant_by_slug(tenant)?.context("unknown tenant")?;
    let user = admin::require_user(&store, &t.id, username)?;
    if user.password_hash.is_some() {
        bail!("{username} already has a password; reset it instead (gatehouse user reset-password)");
    }
    invite(config, &store, tenant, &user)?;
    Ok(Output {
        text: format!("a new set-password link is on its way to {}; earlier links no longer work", user.email),
        json: json!({ "tenant": tenant, "username": user.username, "invited": true }),
    })
}

/// S8: the user's live sessions.
pub(super) fn user_sessions(config: &Config, tenant: &str, username: &str) -> anyhow::Result<Output> {
    let store = store(config)?;
    let sessions = admin::user_sessions(&store, tenant, username, UnixTime::now())?;
    let list: Vec<serde_json::Value> = sessions
        .iter()
        .map(|s| {
            json!({
                "sid": s.sid,
                "started_at": s.created_at,
                "last_seen_at": s.last_seen_at,
                "expires_at": s.expires_at,
                "client_ip": s.client_ip,
                "user_agent": s.user_agent,
                "amr": s.amr,
            })
        })
        .collect();
    let text =
        sessions.iter().map(|s| format!("{} last seen {}", s.sid, s.last_seen_at)).collect::<Vec<_>>().join("\n");
    Ok(Output { text, json: json!({ "tenant": tenant, "username": username, "sessions": list }) })
}

/// S8: ends one or all of the user's sessions.
pub(super) fn user_end_sessions(
    config: &Config,
    tenant: &str,
    username: &str,
    sid: Option<&str>,
) -> anyhow::Result<Output> {
    let store = store(config)?;
    let ended = admin::end_user_sessions(&store, tenant, username, sid, &actor(), UnixTime::now())?;
    Ok(Output {
        text: format!("ended {ended} session(s) of {username}"),
        json: json!({ "tenant": tenant, "username": username, "ended": ended }),
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

/// A5: the user's second factors (names and kinds, never secrets).
pub(super) fn user_mfa_list(config: &Config, tenant: &str, username: &str) -> anyhow::Result<Output> {
    let store = store(config)?;
    let (factors, codes_left) = admin::user_factors(&store, tenant, username)?;
    let text = factors.iter().map(|f| format!("{} {} {:?}", f.id, f.kind.as_str(), f.name)).collect::<Vec<_>>();
    Ok(Output {
        text: format!("{}\n{codes_left} recovery code(s) left", text.join("\n")).trim_start().to_owned(),
        json: json!({ "tenant": tenant, "username": username, "factors": factors, "recovery_codes_left": codes_left }),
    })
}

/// A6: removes the user's factors and recovery codes (audited).
pub(super) fn user_mfa_reset(config: &Config, tenant: &str, username: &str) -> anyhow::Result<Output> {
    let store = store(config)?;
    let removed = admin::reset_user_mfa(&store, tenant, username, &actor())?;
    Ok(Output {
        text: format!("removed {removed} second factor(s) and the recovery codes of {username} in {tenant}"),
        json: json!({ "tenant": tenant, "username": username, "factors_removed": removed }),
    })
}
