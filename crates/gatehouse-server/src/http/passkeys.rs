//! WebAuthn ceremonies (A5) with webauthn-rs: registering a passkey, using one as a second
//! factor, and signing in with one alone (a discoverable credential, where the tenant allows
//! it). The relying-party id is the host of the public URL, the only origin accepted is the
//! public URL's. A ceremony's state is stored between the page that starts it and the
//! browser's answer, and taken once. User verification is required throughout, so a passkey
//! counts as a factor of its own (possession, plus the device's PIN or biometric).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::crypto::random_token;
use gatehouse_core::mfa::{Factor, FactorKind, amr};
use gatehouse_core::model::User;
use gatehouse_core::store::{Ceremony, MfaStore};
use gatehouse_core::{StoreError, flow::secret_hash};
use gatehouse_types::ProtocolError;
use webauthn_rs::prelude::{
    Credential, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::oauth::context::{TenantEntry, blocking};
use crate::state::AppState;

/// How long a started ceremony may be answered (and the browser's own timeout).
const CEREMONY_SECS: u64 = 300;

/// Why a ceremony's answer was refused. The page shows one fixed text; this goes to the log.
#[derive(Debug)]
pub struct Refused(pub &'static str);

/// The relying party of `tenant`: id from the public URL's host, that URL as the origin.
fn relying_party(state: &AppState, tenant: &TenantEntry) -> Result<Webauthn, ProtocolError> {
    let origin = Url::parse(&state.config.public_url).map_err(ProtocolError::server)?;
    let rp_id = origin.host_str().ok_or_else(|| ProtocolError::server("the public URL has no host"))?.to_owned();
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name(&tenant.tenant.display_name).timeout(Duration::from_secs(CEREMONY_SECS)).build())
        .map_err(ProtocolError::server)
}

/// The WebAuthn user handle of a user: derived (SHA-256 of tenant and user id), stable, and
/// telling nothing about the account.
pub fn user_handle(tenant_id: &str, user_id: &str) -> Uuid {
    let digest = secret_hash(&format!("gatehouse-webauthn-user-v1\0{tenant_id}\0{user_id}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// The passkey a factor holds.
fn passkey_of(f: &Factor) -> Option<Passkey> {
    f.credential.as_deref().and_then(|json| serde_json::from_str(json).ok())
}

/// RFC 8176: `swk` for a passkey that may be synced between devices (backup eligible),
/// `hwk` for one bound to its authenticator.
pub fn method_of(passkey: &Passkey) -> &'static str {
    if Credential::from(passkey.clone()).backup_eligible { amr::SWK } else { amr::HWK }
}

/// The transports the browser reported for a new credential (`getTransports()`), as
/// comma-separated names: a hint for the user, not a security property.
fn reported_transports(answer: &RegisterPublicKeyCredential) -> Option<String> {
    let names: Vec<String> = answer
        .response
        .transports
        .iter()
        .flatten()
        .filter_map(|t| serde_json::to_value(t).ok().and_then(|v| v.as_str().map(str::to_owned)))
        .filter(|n| n.len() <= 16 && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        .take(8)
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// What the account pages show of a passkey: its transports and signature counter.
pub fn describe(f: &Factor) -> (Vec<String>, u32) {
    let counter = passkey_of(f).map_or(0, |p| Credential::from(p).counter);
    let transports = f.transports.iter().flat_map(|t| t.split(", ")).map(str::to_owned).collect();
    (transports, counter)
}

async fn save(
    state: &AppState,
    tenant: &TenantEntry,
    user_id: Option<&str>,
    purpose: &str,
    ceremony_state: String,
) -> Result<String, ProtocolError> {
    let c = Ceremony {
        id: random_token(),
        tenant_id: tenant.tenant.id.clone(),
        user_id: user_id.map(str::to_owned),
        purpose: purpose.to_owned(),
        state: ceremony_state,
        expires_at: UnixTime::now().0 + CEREMONY_SECS as i64,
    };
    let (store, record) = (state.store.clone(), c.clone());
    blocking(move || store.save_ceremony(&record)).await?;
    Ok(c.id)
}

/// Takes the ceremony `id` if it is one of `purpose` for `user_id` (once: it is deleted).
async fn take(
    state: &AppState,
    tenant: &TenantEntry,
    id: &str,
    purpose: &str,
    user_id: Option<&str>,
) -> Result<Result<Ceremony, Refused>, ProtocolError> {
    let (store, t, i) = (state.store.clone(), tenant.tenant.id.clone(), id.to_owned());
    let Some(c) = blocking(move || store.take_ceremony(&t, &i, UnixTime::now().0)).await? else {
        return Ok(Err(Refused("unknown, used or expired ceremony")));
    };
    if c.purpose != purpose || c.user_id.as_deref() != user_id {
        return Ok(Err(Refused("ceremony of another purpose or user")));
    }
    Ok(Ok(c))
}

/// Starts registering a passkey for `user` (excluding the ones registered already): the
/// options for `navigator.credentials.create` as JSON, and the ceremony's id. The key must
/// be discoverable, so it can also sign in alone where the tenant allows that.
pub async fn start_registration(
    state: &AppState,
    tenant: &TenantEntry,
    user: &User,
    factors: &[Factor],
) -> Result<(String, String), ProtocolError> {
    let rp = relying_party(state, tenant)?;
    let exclude: Vec<_> = factors.iter().filter_map(passkey_of).map(|p| p.cred_id().clone()).collect();
    let display = if user.display_name.is_empty() { &user.username } else { &user.display_name };
    let (mut options, registration) = rp
        .start_passkey_registration(user_handle(&user.tenant_id, &user.id), &user.username, display, Some(exclude))
        .map_err(ProtocolError::server)?;
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
    }
    let saved = serde_json::to_string(&registration).map_err(ProtocolError::server)?;
    let id = save(state, tenant, Some(&user.id), "register", saved).await?;
    Ok((serde_json::to_string(&options).map_err(ProtocolError::server)?, id))
}

/// Finishes a registration: the passkey, stored as a confirmed factor named `name` with
/// `audit`, or why not.
pub async fn finish_registration(
    state: &AppState,
    tenant: &TenantEntry,
    user: &User,
    ceremony_id: &str,
    answer: &str,
    name: &str,
    audit: AuditEvent,
) -> Result<Result<Factor, Refused>, ProtocolError> {
    let c = match take(state, tenant, ceremony_id, "register", Some(&user.id)).await? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    let registration: PasskeyRegistration = serde_json::from_str(&c.state).map_err(ProtocolError::server)?;
    let Ok(answer) = serde_json::from_str::<RegisterPublicKeyCredential>(answer) else {
        return Ok(Err(Refused("malformed registration")));
    };
    let passkey = match relying_party(state, tenant)?.finish_passkey_registration(&answer, &registration) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(error = %e, "passkey registration refused");
            return Ok(Err(Refused("registration did not verify")));
        }
    };
    let now = UnixTime::now().0;
    let factor = Factor {
        id: uuid_string(),
        tenant_id: tenant.tenant.id.clone(),
        user_id: user.id.clone(),
        kind: FactorKind::Passkey,
        name: name.to_owned(),
        confirmed: true,
        secret: None,
        last_step: None,
        credential_id: Some(URL_SAFE_NO_PAD.encode(passkey.cred_id())),
        credential: Some(serde_json::to_string(&passkey).map_err(ProtocolError::server)?),
        transports: reported_transports(&answer),
        created_at: now,
        last_used_at: None,
    };
    let (store, f) = (state.store.clone(), factor.clone());
    match actix_web::web::block(move || store.add_passkey(&f, &audit)).await.map_err(ProtocolError::server)? {
        Ok(()) => Ok(Ok(factor)),
        Err(StoreError::Conflict(_)) => Ok(Err(Refused("credential registered already"))),
        Err(e) => Err(ProtocolError::server(e)),
    }
}

fn uuid_string() -> String {
    Uuid::new_v4().to_string()
}

/// Starts using one of `user_id`'s passkeys as a second factor: the options for
/// `navigator.credentials.get` and the ceremony's id, or `None` without a passkey.
pub async fn start_authentication(
    state: &AppState,
    tenant: &TenantEntry,
    user_id: &str,
    factors: &[Factor],
) -> Result<Option<(String, String)>, ProtocolError> {
    let keys: Vec<Passkey> = factors.iter().filter(|f| f.confirmed).filter_map(passkey_of).collect();
    if keys.is_empty() {
        return Ok(None);
    }
    let (options, authentication) =
        relying_party(state, tenant)?.start_passkey_authentication(&keys).map_err(ProtocolError::server)?;
    let saved = serde_json::to_string(&authentication).map_err(ProtocolError::server)?;
    let id = save(state, tenant, Some(user_id), "authenticate", saved).await?;
    Ok(Some((serde_json::to_string(&options).map_err(ProtocolError::server)?, id)))
}

/// The stored passkey factor an answer names, in this tenant.
async fn answered_factor(
    state: &AppState,
    tenant: &TenantEntry,
    answer: &PublicKeyCredential,
) -> Result<Option<(Factor, Passkey)>, ProtocolError> {
    let credential_id = URL_SAFE_NO_PAD.encode(answer.get_credential_id());
    let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
    let factor = blocking(move || store.passkey_by_credential(&t, &credential_id)).await?;
    Ok(factor.and_then(|f| passkey_of(&f).map(|p| (f, p))))
}

/// Records a verified use: the counter and backup state the authenticator reported.
async fn record_use(
    state: &AppState,
    tenant: &TenantEntry,
    factor: &Factor,
    mut passkey: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<(), ProtocolError> {
    passkey.update_credential(result);
    let json = serde_json::to_string(&passkey).map_err(ProtocolError::server)?;
    let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), factor.id.clone());
    blocking(move || store.use_passkey(&t, &id, &json, UnixTime::now().0)).await
}

/// Finishes a second-factor ceremony of `user_id`: the RFC 8176 method, or why not.
pub async fn finish_authentication(
    state: &AppState,
    tenant: &TenantEntry,
    user_id: &str,
    ceremony_id: &str,
    answer: &str,
) -> Result<Result<&'static str, Refused>, ProtocolError> {
    let c = match take(state, tenant, ceremony_id, "authenticate", Some(user_id)).await? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    let authentication: PasskeyAuthentication = serde_json::from_str(&c.state).map_err(ProtocolError::server)?;
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(answer) else {
        return Ok(Err(Refused("malformed assertion")));
    };
    let Some((factor, passkey)) = answered_factor(state, tenant, &answer).await?.filter(|(f, _)| f.user_id == user_id)
    else {
        return Ok(Err(Refused("unknown credential")));
    };
    match relying_party(state, tenant)?.finish_passkey_authentication(&answer, &authentication) {
        Ok(result) => {
            let method = method_of(&passkey);
            record_use(state, tenant, &factor, passkey, &result).await?;
            Ok(Ok(method))
        }
        Err(e) => {
            tracing::info!(error = %e, "passkey assertion refused");
            Ok(Err(Refused("assertion did not verify")))
        }
    }
}

/// Starts a passwordless sign-in: options asking for any discoverable passkey of this
/// relying party (the account chooser of the browser), and the ceremony's id.
pub async fn start_discoverable(state: &AppState, tenant: &TenantEntry) -> Result<(String, String), ProtocolError> {
    let (mut options, authentication) =
        relying_party(state, tenant)?.start_discoverable_authentication().map_err(ProtocolError::server)?;
    // A button starts it, not the username field's autofill.
    options.mediation = None;
    let saved = serde_json::to_string(&authentication).map_err(ProtocolError::server)?;
    let id = save(state, tenant, None, "discover", saved).await?;
    Ok((serde_json::to_string(&options).map_err(ProtocolError::server)?, id))
}

/// Finishes a passwordless sign-in: the user's id and the RFC 8176 method, or why not. The
/// credential must be one of this tenant's and carry the user handle of its owner.
pub async fn finish_discoverable(
    state: &AppState,
    tenant: &TenantEntry,
    ceremony_id: &str,
    answer: &str,
) -> Result<Result<(String, &'static str), Refused>, ProtocolError> {
    let c = match take(state, tenant, ceremony_id, "discover", None).await? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    let authentication: DiscoverableAuthentication = serde_json::from_str(&c.state).map_err(ProtocolError::server)?;
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(answer) else {
        return Ok(Err(Refused("malformed assertion")));
    };
    let rp = relying_party(state, tenant)?;
    let Ok((handle, _)) = rp.identify_discoverable_authentication(&answer) else {
        return Ok(Err(Refused("assertion without a user handle")));
    };
    let Some((factor, passkey)) = answered_factor(state, tenant, &answer)
        .await?
        .filter(|(f, _)| f.confirmed && user_handle(&f.tenant_id, &f.user_id) == handle)
    else {
        return Ok(Err(Refused("unknown credential, or another user's handle")));
    };
    match rp.finish_discoverable_authentication_v2(&answer, authentication, &passkey) {
        Ok(result) => {
            let method = method_of(&passkey);
            record_use(state, tenant, &factor, passkey, &result).await?;
            Ok(Ok((factor.user_id, method)))
        }
        Err(e) => {
            tracing::info!(error = %e, "passwordless assertion refused");
            Ok(Err(Refused("assertion did not verify")))
        }
    }
}
