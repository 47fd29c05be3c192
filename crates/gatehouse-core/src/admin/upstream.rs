//! `upstream add|list|update|remove` (O8, D1): a tenant's upstream OpenID Connect providers.
//! Everything is validated before one store call writes the change and its audit record; the
//! client secret is sealed before it is stored and never audited or shown.

use gatehouse_types::{ScopeSet, Secret};
use serde_json::json;

use super::{AdminError, new_id, require_tenant};
use crate::UnixTime;
use crate::audit::AuditEvent;
use crate::crypto::Vault;
use crate::federation::upstream::seal_secret;
use crate::federation::{LinkPolicy, RoleRule, Upstream, UpstreamAuth, UpstreamSettings};
use crate::store::{TenantStore, UpstreamStore};

/// What an administrator sets of an upstream; on `update`, absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct UpstreamInput {
    pub display_name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret<String>>,
    /// Space-separated; must hold `openid` (default `openid profile email`).
    pub scope: Option<String>,
    pub link: Option<String>,
    pub trusted_email: Option<bool>,
    pub jit: Option<bool>,
    pub trust_mfa: Option<bool>,
    pub end_session: Option<bool>,
    pub sync_profile: Option<bool>,
    /// `client-secret` or `private-key-jwt`.
    pub auth: Option<String>,
    /// The domains whose addresses (`login_hint`) go straight to this upstream; when given,
    /// they replace the upstream's.
    pub domains: Option<Vec<String>>,
    /// `claim=value:role` each; when given, they replace the upstream's rules.
    pub role_rules: Option<Vec<String>>,
}

/// IO1: an upstream's name is 1–40 lower-case letters, digits and inner hyphens (it is in URLs).
fn check_name(name: &str) -> Result<(), AdminError> {
    let ok = (1..=40).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(AdminError::invalid("upstream name must be 1-40 lower-case letters, digits and inner hyphens"))
    }
}

/// OIDC Discovery §4: the issuer is an https URL without query or fragment (http only on
/// loopback, for development), where `/.well-known/openid-configuration` is appended.
fn check_issuer(issuer: &str) -> Result<(), AdminError> {
    let bad = || AdminError::invalid("issuer must be an https URL without query or fragment");
    let url = url::Url::parse(issuer).map_err(|_| bad())?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || issuer.len() > 500
    {
        return Err(bad());
    }
    Ok(())
}

/// IO1: client ids and secrets are printable ASCII without spaces, of sane length.
fn check_credential(value: &str, what: &str, max: usize) -> Result<(), AdminError> {
    if !(1..=max).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AdminError::invalid(format!("{what} must be 1-{max} printable characters without spaces")));
    }
    Ok(())
}

/// IO1: a display name is 1–60 printable characters.
fn check_display_name(name: &str) -> Result<(), AdminError> {
    let n = name.chars().count();
    if n == 0 || n > 60 || name.trim() != name || name.chars().any(char::is_control) {
        return Err(AdminError::invalid("display name must be 1-60 printable characters"));
    }
    Ok(())
}

/// OIDC Core §3.1.2.1: an authentication request asks for `openid`.
fn parse_scopes(scope: &str) -> Result<Vec<String>, AdminError> {
    let set = ScopeSet::parse(scope).map_err(AdminError::invalid)?;
    let scopes: Vec<String> = set.iter().map(|s| s.as_str().to_owned()).collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(AdminError::invalid("the scopes must include openid"));
    }
    Ok(scopes)
}

/// O8: linking by e-mail only for an upstream trusted to verify addresses.
fn check_link(settings: &UpstreamSettings) -> Result<(), AdminError> {
    if settings.link == LinkPolicy::VerifiedEmail && !settings.trusted_email {
        return Err(AdminError::invalid(
            "linking by verified e-mail needs an upstream trusted to verify addresses (--trust-email on)",
        ));
    }
    Ok(())
}

/// `input` over `base`, every rule checked; the secret is sealed for `base`'s tenant and id.
fn apply(vault: &Vault, mut base: Upstream, input: &UpstreamInput) -> Result<Upstream, AdminError> {
    if let Some(name) = &input.display_name {
        check_display_name(name)?;
        base.display_name = name.clone();
    }
    if let Some(issuer) = &input.issuer {
        check_issuer(issuer)?;
        base.issuer = issuer.clone();
    }
    if let Some(id) = &input.client_id {
        check_credential(id, "client id", 255)?;
        base.client_id = id.clone();
    }
    if let Some(scope) = &input.scope {
        base.scopes = parse_scopes(scope)?;
    }
    if let Some(link) = &input.link {
        base.settings.link = LinkPolicy::parse(link)
            .ok_or_else(|| AdminError::invalid("link must be never, after-local-sign-in or verified-email"))?;
    }
    if let Some(on) = input.trusted_email {
        base.settings.trusted_email = on;
    }
    if let Some(on) = input.jit {
        base.settings.jit = on;
    }
    if let Some(on) = input.trust_mfa {
        base.settings.trust_mfa = on;
    }
    if let Some(on) = input.end_session {
        base.settings.end_session = on;
    }
    if let Some(on) = input.sync_profile {
        base.settings.sync_profile = on;
    }
    if let Some(domains) = &input.domains {
        base.settings.domains = parse_domains(domains)?;
    }
    if let Some(auth) = &input.auth {
        base.settings.auth = UpstreamAuth::parse(auth)
            .ok_or_else(|| AdminError::invalid("auth must be client-secret or private-key-jwt"))?;
    }
    if let Some(rules) = &input.role_rules {
        if rules.len() > 50 {
            return Err(AdminError::invalid("at most 50 role rules per upstream"));
        }
        base.settings.role_rules =
            rules.iter().map(|r| RoleRule::parse(r).map_err(|e| AdminError::invalid(e.0))).collect::<Result<_, _>>()?;
    }
    check_link(&base.settings)?;
    if let Some(secret) = &input.client_secret {
        check_credential(secret.expose(), "client secret", 512)?;
        let sealed =
            seal_secret(vault, &base.tenant_id, &base.id, secret).map_err(|e| AdminError::Internal(e.to_string()))?;
        base.sealed_secret = Some(sealed);
    }
    Ok(base)
}

/// IO1: routing domains are DNS names (RFC 1035 labels, at least two), at most 20, lower-cased.
fn parse_domains(domains: &[String]) -> Result<Vec<String>, AdminError> {
    if domains.len() > 20 {
        return Err(AdminError::invalid("at most 20 domains per upstream"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let mut out: Vec<String> = Vec::new();
    for d in domains {
        let d = d.trim().to_ascii_lowercase();
        if d.len() > 253 || d.split('.').count() < 2 || !d.split('.').all(label_ok) {
            return Err(AdminError::invalid("a domain is a DNS name such as corp.example.com"));
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// O8: a domain routes to one upstream of a tenant only.
fn check_domains_free(store: &impl UpstreamStore, upstream: &Upstream) -> Result<(), AdminError> {
    let others = store.upstreams(&upstream.tenant_id)?;
    for other in others.iter().filter(|o| o.id != upstream.id) {
        if let Some(d) = upstream.settings.domains.iter().find(|d| other.settings.domains.contains(d)) {
            return Err(AdminError::invalid(format!("the domain {d} already goes to the upstream {}", other.name)));
        }
    }
    Ok(())
}

/// O8: links are (upstream, `sub`), and `sub` is unique only at its issuer (OIDC Core §2):
/// pointed at another issuer, the links would sign other people in as these accounts. An
/// upstream with linked identities keeps its issuer (a new provider is a new upstream).
fn check_issuer_kept(store: &impl UpstreamStore, before: &Upstream, after: &Upstream) -> Result<(), AdminError> {
    if after.issuer != before.issuer && store.identities_linked(&before.tenant_id, &before.id)? > 0 {
        return Err(AdminError::invalid(
            "the upstream has linked identities, which belong to its issuer: add a new upstream for another issuer",
        ));
    }
    Ok(())
}

/// O8, RFC 6749 §2.3: a client secret is needed unless the upstream is authenticated to with
/// `private_key_jwt`.
fn check_credentials(upstream: &Upstream) -> Result<(), AdminError> {
    if upstream.settings.auth == UpstreamAuth::ClientSecret && upstream.sealed_secret.is_none() {
        return Err(AdminError::invalid("an upstream needs --client-secret-stdin, or --auth private-key-jwt"));
    }
    Ok(())
}

/// O8: adds the upstream `name` to `tenant`. The issuer and client id are required, and a
/// secret unless `private_key_jwt` is used.
pub fn add_upstream(
    store: &(impl TenantStore + UpstreamStore),
    vault: &Vault,
    actor: &str,
    tenant: &str,
    name: &str,
    input: &UpstreamInput,
    now: UnixTime,
) -> Result<Upstream, AdminError> {
    check_name(name)?;
    if input.issuer.is_none() || input.client_id.is_none() {
        return Err(AdminError::invalid("an upstream needs --issuer and --client-id"));
    }
    let t = require_tenant(store, tenant)?;
    let base = Upstream {
        id: new_id(),
        tenant_id: t.id.clone(),
        name: name.to_owned(),
        display_name: name.to_owned(),
        issuer: String::new(),
        client_id: String::new(),
        sealed_secret: None,
        scopes: vec!["email".into(), "openid".into(), "profile".into()],
        settings: UpstreamSettings::default(),
        created_at: now.0,
    };
    let upstream = apply(vault, base, input)?;
    check_credentials(&upstream)?;
    check_domains_free(store, &upstream)?;
    let audit = AuditEvent::new(actor, "upstream.add")
        .tenant(&t.id)
        .target(format!("upstream:{}", upstream.id))
        .details(json!({ "after": upstream.summary() }));
    store.create_upstream(&upstream, &audit)?;
    Ok(upstream)
}

/// The upstream `name` of the tenant, or `NotFound`.
pub fn require_upstream(store: &impl UpstreamStore, tenant_id: &str, name: &str) -> Result<Upstream, AdminError> {
    store.upstream_by_name(tenant_id, name)?.ok_or(AdminError::Store(crate::StoreError::NotFound("unknown upstream")))
}

/// O8: changes `before` (the upstream as the administrator read it); absent fields stay. A
/// change made meanwhile, the secret included, is a conflict.
pub fn update_upstream(
    store: &impl UpstreamStore,
    vault: &Vault,
    actor: &str,
    before: &Upstream,
    input: &UpstreamInput,
) -> Result<Upstream, AdminError> {
    let after = apply(vault, before.clone(), input)?;
    check_credentials(&after)?;
    check_domains_free(store, &after)?;
    check_issuer_kept(store, before, &after)?;
    let audit = AuditEvent::new(actor, "upstream.update")
        .tenant(&before.tenant_id)
        .target(format!("upstream:{}", before.id))
        .details(json!({
            "before": before.summary(),
            "after": after.summary(),
            "secret": if input.client_secret.is_some() { "replaced" } else { "unchanged" },
        }));
    store.replace_upstream(before, &after, &audit)?;
    Ok(after)
}

/// O8: removes `before` (the upstream as the administrator read it).
pub fn remove_upstream(store: &impl UpstreamStore, actor: &str, before: &Upstream) -> Result<(), AdminError> {
    let audit = AuditEvent::new(actor, "upstream.remove")
        .tenant(&before.tenant_id)
        .target(format!("upstream:{}", before.id))
        .details(json!({ "before": before.summary() }));
    Ok(store.delete_upstream(before, &audit)?)
}

/// The tenant's upstreams, by name.
pub fn list_upstreams(store: &(impl TenantStore + UpstreamStore), tenant: &str) -> Result<Vec<Upstream>, AdminError> {
    let t = require_tenant(store, tenant)?;
    Ok(store.upstreams(&t.id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_issuers_credentials_and_scopes_are_checked() {
        assert!(check_name("entra-id").is_ok());
        for bad in ["", "Entra", "-x", "x-", "a b", "a/b", &"x".repeat(41)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_issuer("https://login.microsoftonline.com/tid/v2.0").is_ok());
        let domains = |d: &[&str]| parse_domains(&d.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(domains(&["Corp.Example", "corp.example"]).unwrap(), ["corp.example"]);
        for bad in ["localhost", "-a.example", "a..example", "a b.example", "a@b.example", ""] {
            assert!(domains(&[bad]).is_err(), "{bad}");
        }
        assert!(check_issuer("http://localhost:8080/realms/acme").is_ok(), "loopback for development");
        for bad in
            ["http://idp.example.com", "https://idp.example.com/?x=1", "https://idp.example.com/#f", "ftp://x", "idp"]
        {
            assert!(check_issuer(bad).is_err(), "{bad}");
        }
        assert!(check_credential("abc-123.apps.googleusercontent.com", "client id", 255).is_ok());
        assert!(check_credential("with space", "client id", 255).is_err());
        assert_eq!(parse_scopes("openid email").unwrap(), ["email", "openid"]);
        assert!(parse_scopes("email profile").is_err(), "openid is required");
        let untrusted =
            UpstreamSettings { link: LinkPolicy::VerifiedEmail, trusted_email: false, ..UpstreamSettings::default() };
        assert!(check_link(&untrusted).is_err());
        assert!(check_link(&UpstreamSettings { trusted_email: true, ..untrusted }).is_ok());
    }
}
