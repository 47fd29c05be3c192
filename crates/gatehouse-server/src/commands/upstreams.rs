//! `gatehouse upstream …` (O8): a tenant's upstream OpenID Connect providers.

use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, UpstreamInput};
use gatehouse_core::federation::Upstream;
use serde_json::json;

use super::users::read_password;
use super::{Output, actor, store};
use crate::cli::{UpstreamArgs, UpstreamCommand};
use crate::config::Config;

fn input(args: &UpstreamArgs) -> anyhow::Result<UpstreamInput> {
    Ok(UpstreamInput {
        display_name: args.display_name.clone(),
        issuer: args.issuer.clone(),
        client_id: args.client_id.clone(),
        client_secret: args.client_secret_stdin.then(read_password).transpose()?,
        scope: args.scope.clone(),
        link: args.link.clone(),
        trusted_email: args.trust_email,
        jit: args.jit,
        trust_mfa: args.trust_mfa,
        end_session: args.end_session,
        sync_profile: args.sync_profile,
        auth: args.auth.clone(),
        domains: if args.no_domains { Some(Vec::new()) } else { Some(args.domain.clone()).filter(|d| !d.is_empty()) },
        role_rules: if args.no_role_rules {
            Some(Vec::new())
        } else {
            Some(args.role_rule.clone()).filter(|r| !r.is_empty())
        },
    })
}

/// Runs one `upstream` command: (whether to print JSON, its outcome).
pub(super) fn dispatch(command: UpstreamCommand, config: &Config) -> (bool, anyhow::Result<Output>) {
    match command {
        UpstreamCommand::Add(args) => (args.out.json, add(config, &args)),
        UpstreamCommand::Update(args) => (args.out.json, update(config, &args)),
        UpstreamCommand::List { tenant, out } => (out.json, list(config, &tenant)),
        UpstreamCommand::Remove { tenant, name, out } => (out.json, remove(config, &tenant, &name)),
    }
}

fn add(config: &Config, args: &UpstreamArgs) -> anyhow::Result<Output> {
    let input = input(args)?;
    let store = store(config)?;
    let u = admin::add_upstream(&store, store.vault(), &actor(), &args.tenant, &args.name, &input, UnixTime::now())?;
    Ok(Output { text: format!("upstream {} added to tenant {}", u.name, args.tenant), json: u.summary() })
}

fn update(config: &Config, args: &UpstreamArgs) -> anyhow::Result<Output> {
    let input = input(args)?;
    let store = store(config)?;
    let t = admin::require_tenant(&store, &args.tenant)?;
    let before = admin::require_upstream(&store, &t.id, &args.name)?;
    let u = admin::update_upstream(&store, store.vault(), &actor(), &before, &input)?;
    Ok(Output { text: format!("upstream {} of tenant {} changed", u.name, args.tenant), json: u.summary() })
}

fn list(config: &Config, tenant: &str) -> anyhow::Result<Output> {
    let store = store(config)?;
    let all = admin::list_upstreams(&store, tenant)?;
    let text = all.iter().map(|u| format!("{}\t{}\t{}", u.name, u.issuer, u.client_id)).collect::<Vec<_>>().join("\n");
    Ok(Output { text, json: json!({ "items": all.iter().map(Upstream::summary).collect::<Vec<_>>() }) })
}

fn remove(config: &Config, tenant: &str, name: &str) -> anyhow::Result<Output> {
    let store = store(config)?;
    let t = admin::require_tenant(&store, tenant)?;
    let before = admin::require_upstream(&store, &t.id, name)?;
    admin::remove_upstream(&store, &actor(), &before)?;
    Ok(Output { text: format!("upstream {name} removed from tenant {tenant}"), json: json!({ "removed": name }) })
}
