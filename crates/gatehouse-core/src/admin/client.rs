//! `client create` (O2, O3).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_types::{ClientType, GrantType, RedirectUri, ScopeSet, Secret};
use serde_json::json;

use super::{AdminError, require_tenant};
use crate::UnixTime;
use crate::audit::AuditEvent;
use crate::crypto::{KeyKind, Vault, random_bytes, random_token};
use crate::jose::SigningAlg;
use crate::model::{Client, Tenant};
use crate::oauth::client_credentials::is_user_scope;
use crate::store::{AdminStore, ClientStore, TenantStore};

/// Input of `client create`.
#[derive(Debug, Clone, Default)]
pub struct CreateClient {
    pub tenant: String,
    pub name: String,
    pub client_type: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scope: String,
    pub first_party: bool,
    pub audiences: Vec<String>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub signing_alg: Option<String>,
    pub web_origins: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// A JWK set (JSON text) of public keys for `private_key_jwt`.
    pub jwks: Option<String>,
    /// AC4, AC5: roles of a service client (confidential, client credentials only).
    pub roles: Vec<String>,
}

/// AC4, AC5: roles go only to service clients (confidential, client credentials): a user's
/// client acts with its user's roles, never its own. Names are checked like users' roles, and
/// `platform-admin` exists only in the platform tenant.
fn service_roles(
    input: &CreateClient,
    client_type: ClientType,
    grants: &[GrantType],
    platform_tenant: bool,
) -> Result<Vec<String>, AdminError> {
    if input.roles.is_empty() {
        return Ok(Vec::new());
    }
    if client_type != ClientType::Confidential || !grants.contains(&GrantType::ClientCredentials) {
        return Err(AdminError::invalid("only confidential clients with the client_credentials grant have roles"));
    }
    let mut roles = Vec::new();
    for role in &input.roles {
        let name = gatehouse_types::RoleName::parse(role).map_err(AdminError::invalid)?;
        super::user::check_role_scope(&name, platform_tenant)?;
        roles.push(name.as_str().to_owned());
    }
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// RFC 7523: a client's key set holds only public keys Gatehouse can verify with.
fn parse_jwks(text: &str) -> Result<serde_json::Value, AdminError> {
    let bad = || AdminError::invalid("jwks must be a JSON Web Key Set of public EC P-256, Ed25519 or RSA (2048+) keys");
    let set: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
    let keys = set.get("keys").and_then(|k| k.as_array()).filter(|k| !k.is_empty() && k.len() <= 10).ok_or_else(bad)?;
    for k in keys {
        crate::jose::Verifier::from_jwk(k).map_err(|_| bad())?;
    }
    Ok(serde_json::json!({ "keys": keys }))
}

/// IO1: an audience is 1–200 printable characters without spaces (a URI or a name).
fn check_audiences(audiences: &[String]) -> Result<(), AdminError> {
    let ok =
        |a: &String| (1..=200).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    if !audiences.iter().all(ok) {
        return Err(AdminError::invalid("audience must be 1-200 printable characters without spaces or quotes"));
    }
    Ok(())
}

/// O4: token lifetimes within sane bounds.
fn check_ttl(value: Option<i64>, default: i64, (min, max): (i64, i64), what: &str) -> Result<i64, AdminError> {
    let v = value.unwrap_or(default);
    if v < min || v > max {
        return Err(AdminError::invalid(format!("{what} must be between {min} and {max} seconds")));
    }
    Ok(v)
}

/// O7: a web origin is `https://host[:port]` (or http on loopback), nothing more.
fn parse_origin(value: &str) -> Result<String, AdminError> {
    let bad = || AdminError::invalid("web origin must look like https://app.example.com (scheme, host, optional port)");
    let uri = RedirectUri::parse(value).map_err(|_| bad())?;
    let url = url::Url::parse(uri.as_str()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "https" | "http") || url.path() != "/" || url.query().is_some() || value.ends_with('/') {
        return Err(bad());
    }
    Ok(url.origin().ascii_serialization())
}

/// A new client and, for a confidential one, its secret: shown once, stored only as a hash.
#[derive(Debug)]
pub struct CreatedClient {
    pub client: Client,
    pub client_secret: Option<Secret<String>>,
}

/// IO1: client names are 1–100 of letters, digits, space, `.`, `_`, `-`.
fn check_client_name(name: &str) -> Result<(), AdminError> {
    let n = name.chars().count();
    let ok = (1..=100).contains(&n)
        && name.trim() == name
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'));
    if !ok {
        return Err(AdminError::invalid("client name must be 1-100 letters, digits, spaces, '.', '_' or '-'"));
    }
    Ok(())
}

/// RFC 6749 §2.1, §4.4: a public client cannot authenticate, so it gets no client_credentials;
/// the code grant needs a redirect URI; a refresh token needs a grant that issues one.
fn check_grants(client_type: ClientType, grants: &[GrantType], redirects: &[RedirectUri]) -> Result<(), AdminError> {
    if grants.is_empty() {
        return Err(AdminError::invalid("at least one --grant is required"));
    }
    if client_type == ClientType::Public && grants.contains(&GrantType::ClientCredentials) {
        return Err(AdminError::invalid("a public client cannot use the client_credentials grant"));
    }
    if grants.contains(&GrantType::AuthorizationCode) && redirects.is_empty() {
        return Err(AdminError::invalid("the authorization_code grant needs at least one --redirect-uri"));
    }
    if grants.contains(&GrantType::RefreshToken) && !grants.contains(&GrantType::AuthorizationCode) {
        return Err(AdminError::invalid("the refresh_token grant needs the authorization_code grant"));
    }
    Ok(())
}

/// RFC 6749 §4.4, OIDC Core §5.4: a client registered only for client_credentials never acts
/// for a user, so user scopes (`openid`, `profile`, `offline_access`, ...) are refused at
/// registration rather than silently never granted.
fn check_machine_scopes(grants: &[GrantType], scope: &ScopeSet) -> Result<(), AdminError> {
    if grants == [GrantType::ClientCredentials] && scope.iter().any(|s| is_user_scope(s.as_str())) {
        return Err(AdminError::invalid(
            "a client_credentials-only client has no user: drop the user scopes (openid, profile, email, address, \
             phone, offline_access) or add the authorization_code grant",
        ));
    }
    Ok(())
}

/// O3: client secrets are stored as HMAC-SHA256 under the client-secret DEK, bound to the
/// client id; a secret is 256 random bits, so a keyed hash (not Argon2) is the right tool.
pub fn client_secret_hash(vault: &Vault, client_id: &str, secret: &Secret<String>) -> Result<Vec<u8>, AdminError> {
    vault
        .keyed_hash(KeyKind::ClientSecrets, &[client_id.as_bytes(), b"\0", secret.expose().as_bytes()])
        .map(|h| h.to_vec())
        .map_err(|e| AdminError::Internal(e.to_string()))
}

fn parse_uris(uris: &[String]) -> Result<Vec<RedirectUri>, AdminError> {
    let mut out: Vec<RedirectUri> = Vec::new();
    for u in uris {
        let parsed = RedirectUri::parse(u).map_err(AdminError::invalid)?;
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    Ok(out)
}

/// Every rule of a client's settings (O2, O3, O4, O7, IO1) applied to `input`, as the client
/// `client_id` of `tenant` created at `created_at` with `secret_hash`.
fn build(
    input: &CreateClient,
    tenant: &Tenant,
    client_id: String,
    secret_hash: Option<Vec<u8>>,
    created_at: i64,
) -> Result<Client, AdminError> {
    check_client_name(&input.name)?;
    let client_type = ClientType::parse(&input.client_type).map_err(AdminError::invalid)?;
    let redirects = parse_uris(&input.redirect_uris)?;
    let post_logout = parse_uris(&input.post_logout_redirect_uris)?;
    let mut grants = input
        .grant_types
        .iter()
        .map(|g| GrantType::parse(g))
        .collect::<Result<Vec<_>, _>>()
        .map_err(AdminError::invalid)?;
    grants.sort();
    grants.dedup();
    check_grants(client_type, &grants, &redirects)?;
    let scope = ScopeSet::parse(&input.scope).map_err(AdminError::invalid)?;
    check_machine_scopes(&grants, &scope)?;
    check_audiences(&input.audiences)?;
    let access_token_ttl = check_ttl(input.access_token_ttl, 300, (60, 86_400), "access token lifetime")?;
    let refresh_token_ttl = check_ttl(input.refresh_token_ttl, 2_592_000, (300, 31_536_000), "refresh token lifetime")?;
    let signing_alg = match &input.signing_alg {
        Some(a) => {
            SigningAlg::parse(a).map_err(|_| AdminError::invalid("signing algorithm must be ES256, RS256 or EdDSA"))?
        }
        None => SigningAlg::Es256,
    };
    let web_origins = input.web_origins.iter().map(|o| parse_origin(o)).collect::<Result<Vec<_>, _>>()?;
    let backchannel_logout_uri = input
        .backchannel_logout_uri
        .as_deref()
        .map(|u| {
            RedirectUri::parse(u)
                .map(|u| u.to_string())
                .map_err(|_| AdminError::invalid("back-channel logout URI must be an https URL"))
        })
        .transpose()?;
    let jwks = input.jwks.as_deref().map(parse_jwks).transpose()?;
    if jwks.is_some() && client_type != ClientType::Confidential {
        return Err(AdminError::invalid("only confidential clients authenticate with private_key_jwt"));
    }
    let roles = service_roles(input, client_type, &grants, tenant.is_platform)?;
    Ok(Client {
        client_id,
        tenant_id: tenant.id.clone(),
        name: input.name.clone(),
        client_type,
        secret_hash,
        redirect_uris: redirects.iter().map(|u| u.to_string()).collect(),
        post_logout_redirect_uris: post_logout.iter().map(|u| u.to_string()).collect(),
        grant_types: grants,
        scope: scope.to_string(),
        first_party: input.first_party,
        created_at,
        audiences: input.audiences.clone(),
        access_token_ttl,
        refresh_token_ttl,
        signing_alg,
        web_origins,
        backchannel_logout_uri,
        jwks,
        roles,
    })
}

/// The audited settings of a client (never its secret, L4).
pub fn settings_of(c: &Client) -> serde_json::Value {
    json!({
        "name": c.name,
        "type": c.client_type.as_str(),
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types,
        "scope": c.scope,
        "first_party": c.first_party,
        "audiences": c.audiences,
        "access_token_ttl": c.access_token_ttl,
        "refresh_token_ttl": c.refresh_token_ttl,
        "signing_alg": c.signing_alg,
        "web_origins": c.web_origins,
        "backchannel_logout_uri": c.backchannel_logout_uri,
        "jwks": c.jwks,
        "roles": c.roles,
    })
}

/// The settings of `c` as the input that would recreate them (the base of a partial change).
pub fn input_of(c: &Client, tenant_slug: &str) -> CreateClient {
    CreateClient {
        tenant: tenant_slug.to_owned(),
        name: c.name.clone(),
        client_type: c.client_type.as_str().to_owned(),
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        grant_types: c.grant_types.iter().map(|g| g.as_str().to_owned()).collect(),
        scope: c.scope.clone(),
        first_party: c.first_party,
        audiences: c.audiences.clone(),
        access_token_ttl: Some(c.access_token_ttl),
        refresh_token_ttl: Some(c.refresh_token_ttl),
        signing_alg: Some(c.signing_alg.as_str().to_owned()),
        web_origins: c.web_origins.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        jwks: c.jwks.as_ref().map(|j| j.to_string()),
        roles: c.roles.clone(),
    }
}

/// Registers a client in a tenant; returns the secret once for a confidential client.
pub fn create_client(
    store: &(impl TenantStore + ClientStore),
    vault: &Vault,
    actor: &str,
    input: &CreateClient,
    now: UnixTime,
) -> Result<CreatedClient, AdminError> {
    let tenant = require_tenant(store, &input.tenant)?;
    let client_id = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
    // Validated before a secret is made; the hash is bound to the id, so it comes after.
    let mut client = build(input, &tenant, client_id, None, now.0)?;
    let client_secret = (client.client_type == ClientType::Confidential).then(|| Secret::new(random_token()));
    client.secret_hash = client_secret.as_ref().map(|s| client_secret_hash(vault, &client.client_id, s)).transpose()?;
    let audit = AuditEvent::new(actor, "client.create")
        .tenant(&tenant.id)
        .target(format!("client:{}", client.client_id))
        .details(json!({ "after": settings_of(&client) }));
    store.create_client(&client, &audit)?;
    Ok(CreatedClient { client, client_secret })
}

/// The client `client_id` of the tenant, or `NotFound`.
pub fn require_client(store: &impl ClientStore, tenant_id: &str, client_id: &str) -> Result<Client, AdminError> {
    store.client_by_id(tenant_id, client_id)?.ok_or(AdminError::Store(crate::StoreError::NotFound("unknown client")))
}

/// O3: changes the settings of `before` (as the administrator read it) to `input`; the id,
/// type, secret and creation time stay. A change made meanwhile is a conflict.
pub fn update_client(
    store: &(impl TenantStore + AdminStore),
    actor: &str,
    before: &Client,
    input: &CreateClient,
) -> Result<Client, AdminError> {
    let tenant = require_tenant(store, &input.tenant)?;
    if tenant.id != before.tenant_id {
        return Err(AdminError::Store(crate::StoreError::NotFound("unknown client")));
    }
    if input.client_type != before.client_type.as_str() {
        return Err(AdminError::invalid("a client's type cannot change: register a new client"));
    }
    let after = build(input, &tenant, before.client_id.clone(), before.secret_hash.clone(), before.created_at)?;
    let audit = AuditEvent::new(actor, "client.update")
        .tenant(&tenant.id)
        .target(format!("client:{}", before.client_id))
        .details(json!({ "before": settings_of(before), "after": settings_of(&after) }));
    store.replace_client(before, &after, &audit)?;
    Ok(after)
}

/// O3: a new secret for a confidential client, shown once; the old one stops working at once.
pub fn rotate_client_secret(
    store: &impl AdminStore,
    vault: &Vault,
    actor: &str,
    before: &Client,
) -> Result<Secret<String>, AdminError> {
    if before.client_type != ClientType::Confidential {
        return Err(AdminError::invalid("only a confidential client has a secret"));
    }
    let secret = Secret::new(random_token());
    let after = Client { secret_hash: Some(client_secret_hash(vault, &before.client_id, &secret)?), ..before.clone() };
    let audit = AuditEvent::new(actor, "client.secret_rotate")
        .tenant(&before.tenant_id)
        .target(format!("client:{}", before.client_id));
    store.replace_client(before, &after, &audit)?;
    Ok(secret)
}

/// Deletes a client; what it was issued (codes, refresh tokens, consents) goes with it.
pub fn delete_client(store: &impl AdminStore, actor: &str, client: &Client) -> Result<(), AdminError> {
    let audit = AuditEvent::new(actor, "client.delete")
        .tenant(&client.tenant_id)
        .target(format!("client:{}", client.client_id))
        .details(json!({ "before": settings_of(client) }));
    Ok(store.delete_client(client, &audit)?)
}
