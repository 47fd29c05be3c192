//! The operator commands. Each returns one JSON object and a human line; `run` prints the one
//! the operator asked for, or the error on stderr with exit code 1.

use std::process::ExitCode;

use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, CreateClient, CreateTenant, CreateUser};
use gatehouse_core::audit::verify_chain;
use gatehouse_store::Store;
use serde_json::{Value, json};

use crate::cli::{AuditCommand, Cli, ClientCommand, Command, KeysCommand, MfaCommand, TenantCommand, UserCommand};
use crate::config::{Config, Settings};

mod keys;
mod upstreams;
mod users;

use keys::{keys_rotate, rotate_master};
use users::{read_password, user_create, user_delete, user_reset_password, user_unlock};

/// What a command produced: the JSON object and the text for humans.
pub(crate) struct Output {
    json: Value,
    text: String,
}

/// Runs a parsed command line; the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let serving = matches!(cli.command, Command::Serve);
    // Commands keep stdout for their result and log only warnings.
    let level = if serving { config.log_level.clone() } else { "warn".to_owned() };
    let _logs = crate::logging::init(config.log_format, &level, serving);
    for var in Settings::unknown_env(&std::env::vars().collect::<Vec<_>>()) {
        tracing::warn!(variable = %var, "unknown GATEHOUSE_ variable ignored");
    }
    if serving {
        return match serve(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let (json_flag, result) = dispatch(cli.command, &config);
    match result {
        Ok(out) if json_flag => {
            println!("{}", out.json);
            ExitCode::SUCCESS
        }
        Ok(out) => {
            println!("{}", out.text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let running = crate::start(config, None).await?;
        running.wait().await
    })
}

/// The actor recorded in the audit log for CLI changes.
fn actor() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

fn dispatch(command: Command, config: &Config) -> (bool, anyhow::Result<Output>) {
    match command {
        Command::Serve => (false, Err(anyhow::anyhow!("serve is not a one-shot command"))),
        Command::Migrate(f) => (f.json, migrate(config)),
        Command::Purge(f) => (f.json, purge(config)),
        Command::Backup { out, json } => {
            (json.json, crate::backup::backup(config, &out, &actor()).map(|(text, json)| Output { text, json }))
        }
        Command::Restore { from, json } => {
            (json.json, crate::backup::restore(config, &from, &actor()).map(|(text, json)| Output { text, json }))
        }
        Command::Tenant(TenantCommand::Create { slug, display_name, bind_sessions, out }) => {
            (out.json, tenant_create(config, CreateTenant { slug, display_name, bind_sessions }))
        }
        Command::Tenant(TenantCommand::Update {
            slug,
            password_history,
            password_max_age_days,
            password_reset,
            self_registration,
            mail_from,
            mfa,
            passwordless,
            recent_auth_minutes,
            session_idle_minutes,
            session_max_hours,
            lockout_threshold,
            lockout_minutes,
            out,
        }) => {
            let change = admin::PolicyChange {
                password_history,
                password_max_age_days,
                password_reset,
                self_registration,
                mail_from,
                mfa,
                passwordless,
                recent_auth_minutes,
                session_idle_minutes,
                session_max_hours,
                lockout_threshold,
                lockout_minutes,
                expected: None,
            };
            (out.json, tenant_update(config, &slug, &change))
        }
        Command::Client(command) => {
            let ClientCommand::Create {
                tenant,
                name,
                client_type,
                redirect_uris,
                post_logout_redirect_uris,
                grants,
                scope,
                first_party,
                audiences,
                access_token_ttl,
                refresh_token_ttl,
                signing_alg,
                web_origins,
                backchannel_logout_uri,
                jwks_file,
                roles,
                out,
            } = *command;
            let jwks = match jwks_file.map(std::fs::read_to_string).transpose() {
                Ok(j) => j,
                Err(e) => return (out.json, Err(anyhow::anyhow!("reading the JWKS file: {e}"))),
            };
            let input = CreateClient {
                jwks,
                tenant,
                name,
                client_type,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types: grants,
                scope,
                first_party,
                audiences,
                access_token_ttl,
                refresh_token_ttl,
                signing_alg,
                web_origins,
                backchannel_logout_uri,
                roles,
            };
            (out.json, client_create(config, input))
        }
        Command::User(UserCommand::Create {
            tenant,
            username,
            email,
            password_stdin,
            roles,
            must_change_password,
            out,
        }) => {
            let password = if password_stdin { read_password().map(Some) } else { Ok(None) };
            let result = password.and_then(|password| {
                let input = CreateUser {
                    tenant,
                    username,
                    email,
                    password,
                    roles,
                    must_change_password,
                    self_registered: false,
                };
                user_create(config, input)
            });
            (out.json, result)
        }
        Command::User(UserCommand::Invite { tenant, username, out }) => {
            (out.json, users::user_invite(config, &tenant, &username))
        }
        Command::User(UserCommand::Sessions { tenant, username, out }) => {
            (out.json, users::user_sessions(config, &tenant, &username))
        }
        Command::User(UserCommand::EndSessions { tenant, username, sid, out }) => {
            (out.json, users::user_end_sessions(config, &tenant, &username, sid.as_deref()))
        }
        Command::User(UserCommand::ResetPassword {
            tenant,
            username,
            password_stdin: _,
            must_change_password,
            out,
        }) => {
            let result = read_password()
                .and_then(|password| user_reset_password(config, &tenant, &username, &password, must_change_password));
            (out.json, result)
        }
        Command::User(UserCommand::Delete { tenant, username, out }) => {
            (out.json, user_delete(config, &tenant, &username))
        }
        Command::User(UserCommand::Unlock { tenant, username, out }) => {
            (out.json, user_unlock(config, &tenant, &username))
        }
        Command::User(UserCommand::Mfa(MfaCommand::List { tenant, username, out })) => {
            (out.json, users::user_mfa_list(config, &tenant, &username))
        }
        Command::User(UserCommand::Mfa(MfaCommand::Reset { tenant, username, out })) => {
            (out.json, users::user_mfa_reset(config, &tenant, &username))
        }
        Command::Audit(AuditCommand::Verify(f)) => (f.json, audit_verify(config)),
        Command::Audit(AuditCommand::Prune { older_than_days, out }) => {
            (out.json, audit_prune(config, older_than_days.unwrap_or(config.audit_retention_days)))
        }
        Command::Keys(KeysCommand::Rotate { tenant, alg, overlap_secs, out }) => {
            (out.json, keys_rotate(config, &tenant, &alg, overlap_secs))
        }
        Command::Keys(KeysCommand::RotateMaster { new_key_file, out }) => {
            (out.json, rotate_master(config, &new_key_file))
        }
        Command::Upstream(command) => upstreams::dispatch(*command, config),
    }
}

fn store(config: &Config) -> anyhow::Result<Store> {
    crate::open_store(config)
}

fn migrate(config: &Config) -> anyhow::Result<Output> {
    crate::ensure_data_dir(config)?;
    let db = gatehouse_store::Database::connect(&config.database)?;
    let backed_up = crate::backup::before_migrating(config, &db)?;
    let applied = db.migrate()?;
    let backend = format!("{:?}", db.backend()).to_lowercase();
    Ok(Output {
        text: match &backed_up {
            Some(path) => {
                format!("{} migration(s) applied on {backend}, after a backup to {}", applied.len(), path.display())
            }
            None => format!("{} migration(s) applied on {backend}", applied.len()),
        },
        json: json!({ "applied": applied, "backend": backend, "backup": backed_up.map(|p| p.display().to_string()) }),
    })
}

fn tenant_create(config: &Config, input: CreateTenant) -> anyhow::Result<Output> {
    let store = store(config)?;
    let t = admin::create_tenant(&store, &actor(), &input, UnixTime::now())?;
    let issuer = t.issuer(&config.public_url);
    Ok(Output {
        text: format!("created tenant {} ({})\nissuer: {issuer}", t.slug, t.id),
        json: json!({
            "id": t.id,
            "slug": t.slug,
            "display_name": t.display_name,
            "issuer": issuer,
            "bind_sessions": t.bind_sessions,
        }),
    })
}

/// A2, A9, AC3: a tenant's account policies.
fn tenant_update(config: &Config, slug: &str, change: &admin::PolicyChange) -> anyhow::Result<Output> {
    let store = store(config)?;
    let t = admin::update_tenant_policy(&store, &actor(), slug, change)?;
    Ok(Output {
        text: format!("updated the policies of tenant {}", t.slug),
        json: json!({ "id": t.id, "slug": t.slug, "policy": t.policy }),
    })
}

fn client_create(config: &Config, input: CreateClient) -> anyhow::Result<Output> {
    let store = store(config)?;
    let created = admin::create_client(&store, store.vault(), &actor(), &input, UnixTime::now())?;
    let c = &created.client;
    let mut json = json!({
        "client_id": c.client_id,
        "name": c.name,
        "type": c.client_type.as_str(),
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types,
        "scope": c.scope,
        "first_party": c.first_party,
        "audiences": c.token_audience(),
        "access_token_ttl": c.access_token_ttl,
        "refresh_token_ttl": c.refresh_token_ttl,
        "signing_alg": c.signing_alg,
        "web_origins": c.web_origins,
        "backchannel_logout_uri": c.backchannel_logout_uri,
        "private_key_jwt": c.jwks.is_some(),
        "roles": c.roles,
    });
    let mut text = format!("created client {} ({})", c.name, c.client_id);
    if let Some(secret) = &created.client_secret {
        json["client_secret"] = Value::String(secret.expose().clone());
        text.push_str(&format!("\nclient secret (shown only now): {}", secret.expose()));
    }
    Ok(Output { json, text })
}

fn audit_verify(config: &Config) -> anyhow::Result<Output> {
    let store = store(config)?;
    let report = verify_chain(&store, store.vault())?;
    Ok(Output {
        text: format!(
            "audit chain intact: {} record(s); head {} {}",
            report.records, report.head_seq, report.head_hash
        ),
        json: json!({ "ok": true, "records": report.records, "head_seq": report.head_seq, "head_hash": report.head_hash }),
    })
}

/// D3: purges expired records now.
fn purge(config: &Config) -> anyhow::Result<Output> {
    let store = store(config)?;
    let idle = gatehouse_core::flow::session::SessionPolicy::MAX_IDLE_SECS;
    let purged = store.purge_expired(UnixTime::now().0, idle)?;
    Ok(Output {
        text: format!(
            "purged {} code(s), {} refresh token(s), {} session(s), {} request(s), {} revocation(s), {} assertion id(s)",
            purged.auth_codes,
            purged.refresh_tokens,
            purged.sessions,
            purged.auth_requests,
            purged.revoked_tokens,
            purged.assertion_jtis
        ),
        json: serde_json::to_value(purged)?,
    })
}

/// L3: prunes audit records past the retention now.
fn audit_prune(config: &Config, days: u32) -> anyhow::Result<Output> {
    let store = store(config)?;
    let pruned = crate::purge::prune_audit(&store, days, &actor())?;
    Ok(Output {
        text: format!("pruned {pruned} audit record(s) older than {days} day(s); the chain still verifies"),
        json: json!({ "pruned": pruned, "older_than_days": days }),
    })
}
