//! An upstream identity provider of a tenant (O8): where it is (its issuer, for discovery),
//! how Gatehouse is its client, and how its identities may become local accounts.

use gatehouse_types::Secret;
use serde::{Deserialize, Serialize};

use super::rules::RoleRule;
use crate::crypto::{CryptoError, KeyKind, Vault};

/// O8: when an upstream identity may be linked to an existing local account. Never silently
/// by e-mail otherwise (the account-takeover class that hit several IdPs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LinkPolicy {
    /// Upstream identities never link to existing accounts (only new ones, if provisioned).
    #[default]
    Never,
    /// The user proves the local account once (signs in locally), then the link is made.
    AfterLocalSignIn,
    /// Linked by an `email_verified` address, for an upstream trusted to verify addresses.
    VerifiedEmail,
}

impl LinkPolicy {
    /// `never`, `after-local-sign-in` or `verified-email`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "never" => Some(Self::Never),
            "after-local-sign-in" => Some(Self::AfterLocalSignIn),
            "verified-email" => Some(Self::VerifiedEmail),
            _ => None,
        }
    }

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::AfterLocalSignIn => "after-local-sign-in",
            Self::VerifiedEmail => "verified-email",
        }
    }
}

/// How Gatehouse authenticates to an upstream's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamAuth {
    /// `client_secret_basic` (or `client_secret_post` where the upstream offers only that).
    #[default]
    ClientSecret,
    /// RFC 7523 §2.2, OIDC Core §9 `private_key_jwt`: an assertion signed with the tenant's
    /// signing key, whose public keys the upstream reads at `{issuer}/jwks`.
    PrivateKeyJwt,
}

impl UpstreamAuth {
    /// `client-secret` or `private-key-jwt`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "client-secret" => Some(Self::ClientSecret),
            "private-key-jwt" => Some(Self::PrivateKeyJwt),
            _ => None,
        }
    }

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecret => "client-secret",
            Self::PrivateKeyJwt => "private-key-jwt",
        }
    }
}

/// An upstream's policies (stored as JSON, so later ones join without a migration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpstreamSettings {
    pub link: LinkPolicy,
    /// An administrator marked this upstream as verifying e-mail addresses (needed for
    /// [`LinkPolicy::VerifiedEmail`]).
    pub trusted_email: bool,
    /// Just-in-time provisioning: an unknown identity becomes a new local account.
    pub jit: bool,
    /// A6: an upstream sign-in its `amr`/`acr` call multi-factor counts as one here.
    pub trust_mfa: bool,
    /// Roles granted from the upstream's claims at every sign-in through it.
    pub role_rules: Vec<RoleRule>,
    /// RP-Initiated Logout at the upstream when a session that began there ends here.
    pub end_session: bool,
    /// The account's display name and verified address follow the upstream's at every
    /// sign-in (not only at provisioning).
    pub sync_profile: bool,
    /// How Gatehouse authenticates to the upstream's token endpoint.
    pub auth: UpstreamAuth,
    /// Home-realm discovery: an authorization request whose `login_hint` is an address at one
    /// of these domains goes straight to this upstream (lower-case DNS names).
    pub domains: Vec<String>,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            link: LinkPolicy::Never,
            trusted_email: false,
            jit: true,
            trust_mfa: false,
            role_rules: Vec::new(),
            end_session: false,
            sync_profile: false,
            auth: UpstreamAuth::ClientSecret,
            domains: Vec::new(),
        }
    }
}

/// An upstream OpenID Connect provider of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub id: String,
    pub tenant_id: String,
    /// Lower-case letters, digits and hyphens: how URLs and the CLI name it.
    pub name: String,
    /// The button's text: "Continue with {display_name}".
    pub display_name: String,
    /// The issuer; its discovery document is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// The client secret sealed under `upstream_secrets` (D1), bound to tenant and upstream.
    pub sealed_secret: Option<Vec<u8>>,
    pub scopes: Vec<String>,
    pub settings: UpstreamSettings,
    pub created_at: i64,
}

impl Upstream {
    /// What may be shown or audited of the upstream: its settings, never its secret (L4).
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "display_name": self.display_name,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "scopes": self.scopes,
            "link": self.settings.link.as_str(),
            "trusted_email": self.settings.trusted_email,
            "jit": self.settings.jit,
            "trust_mfa": self.settings.trust_mfa,
            "end_session": self.settings.end_session,
            "sync_profile": self.settings.sync_profile,
            "auth": self.settings.auth.as_str(),
            "domains": self.settings.domains,
            "role_rules": self.settings.role_rules.iter().map(RoleRule::to_string).collect::<Vec<_>>(),
            "has_secret": self.sealed_secret.is_some(),
        })
    }
}

/// O8: an upstream identity, the pair (upstream, `sub`), and the local account it signs in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub tenant_id: String,
    pub upstream_id: String,
    /// The upstream's `sub` (case-sensitive, at most 255 characters: OIDC Core §2).
    pub subject: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// O8: the upstream whose `domains` hold the domain of the address `login_hint`, if any.
pub fn routed_by_hint<'a>(upstreams: &'a [Upstream], login_hint: &str) -> Option<&'a Upstream> {
    let (_, domain) = login_hint.rsplit_once('@')?;
    let domain = domain.to_ascii_lowercase();
    upstreams.iter().find(|u| u.settings.domains.contains(&domain))
}

impl LinkedIdentity {
    /// (upstream, `subject`) linked to `user_id` of `tenant_id` at `now` (and used then).
    pub fn new(tenant_id: &str, upstream_id: &str, subject: &str, user_id: &str, now: i64) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            upstream_id: upstream_id.to_owned(),
            subject: subject.to_owned(),
            user_id: user_id.to_owned(),
            created_at: now,
            last_used_at: Some(now),
        }
    }
}

fn seal_context(tenant_id: &str, upstream_id: &str) -> Vec<u8> {
    [tenant_id.as_bytes(), b"\0", upstream_id.as_bytes()].concat()
}

/// D1: seals an upstream's client secret, bound to its tenant and id.
pub fn seal_secret(
    vault: &Vault,
    tenant_id: &str,
    upstream_id: &str,
    secret: &Secret<String>,
) -> Result<Vec<u8>, CryptoError> {
    vault.seal(KeyKind::UpstreamSecrets, &seal_context(tenant_id, upstream_id), secret.expose().as_bytes())
}

/// D1: the client secret of `upstream`, if it has one.
pub fn open_secret(vault: &Vault, upstream: &Upstream) -> Result<Option<Secret<String>>, CryptoError> {
    let Some(sealed) = &upstream.sealed_secret else { return Ok(None) };
    let plain = vault.open(KeyKind::UpstreamSecrets, &seal_context(&upstream.tenant_id, &upstream.id), sealed)?;
    let text = String::from_utf8(plain.expose().clone()).map_err(|_| CryptoError::Tampered)?;
    Ok(Some(Secret::new(text)))
}

fn id_token_context(tenant_id: &str, upstream_id: &str, sid: &str) -> Vec<u8> {
    [b"id_token\0", tenant_id.as_bytes(), b"\0", upstream_id.as_bytes(), b"\0", sid.as_bytes()].concat()
}

/// D1: seals the upstream's ID token of the session `sid` (the hint of its logout there).
pub fn seal_id_token(vault: &Vault, upstream: &Upstream, sid: &str, id_token: &str) -> Result<Vec<u8>, CryptoError> {
    vault.seal(KeyKind::UpstreamSecrets, &id_token_context(&upstream.tenant_id, &upstream.id, sid), id_token.as_bytes())
}

/// D1: the upstream's ID token of the session `sid`.
pub fn open_id_token(vault: &Vault, upstream: &Upstream, sid: &str, sealed: &[u8]) -> Result<String, CryptoError> {
    let plain =
        vault.open(KeyKind::UpstreamSecrets, &id_token_context(&upstream.tenant_id, &upstream.id, sid), sealed)?;
    String::from_utf8(plain.expose().clone()).map_err(|_| CryptoError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_policies_round_trip_and_nothing_else_parses() {
        for p in [LinkPolicy::Never, LinkPolicy::AfterLocalSignIn, LinkPolicy::VerifiedEmail] {
            assert_eq!(LinkPolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(LinkPolicy::parse("email"), None);
        assert_eq!(LinkPolicy::default(), LinkPolicy::Never, "never links by default");
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_own_upstream() {
        use crate::crypto::MasterKey;
        let master = MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let stored: Vec<_> = KeyKind::ALL.into_iter().map(|k| master.new_data_key(k, 1).unwrap()).collect();
        let vault = Vault::unlock(&master, &stored).unwrap();
        let sealed = seal_secret(&vault, "t1", "u1", &Secret::new("s3cret-value".into())).unwrap();
        assert!(!sealed.windows(12).any(|w| w == b"s3cret-value"), "no plaintext at rest");
        let mut upstream = Upstream {
            id: "u1".into(),
            tenant_id: "t1".into(),
            name: "idp".into(),
            display_name: "IdP".into(),
            issuer: "https://idp.example.com".into(),
            client_id: "gatehouse".into(),
            sealed_secret: Some(sealed),
            scopes: vec!["openid".into()],
            settings: UpstreamSettings::default(),
            created_at: 0,
        };
        assert_eq!(open_secret(&vault, &upstream).unwrap().unwrap().expose(), "s3cret-value");
        upstream.id = "u2".into();
        assert!(open_secret(&vault, &upstream).is_err(), "D1: bound to its upstream");
    }
}
