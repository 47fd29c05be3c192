//! The upstream's answer (O8): `GET {issuer}/upstream/callback`. The waiting sign-in is the
//! one `state` names, in the browser holding its binding cookie, with the hash of that `state`
//! (single use: the sign-in is taken before anything else). Then RFC 9207 `iss`, the code
//! exchanged with the PKCE verifier, and the ID token validated by `openidconnect`
//! (signature against the upstream's keys, `iss`, `aud`, `exp`, `nonce`) plus `azp` and
//! `at_hash`. Any failure: the generic page, the reason audited, nothing created.

use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::federation::account::methods;
use gatehouse_core::federation::{Upstream, UpstreamAuth, UpstreamClaims};
use gatehouse_core::flow::interaction::{Continuation, Federated, PendingLink, SignIn, UpstreamLeg};
use gatehouse_core::flow::secret_hash;
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::store::FlowStore;
use gatehouse_types::ProtocolError;
use openidconnect::core::{CoreIdToken, CoreJwsSigningAlgorithm};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, ClaimsVerificationError, Nonce, OAuth2TokenResponse,
    PkceCodeVerifier, SignatureVerificationError, TokenResponse,
};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::accounts::{self, Account};
use super::client::{Metadata, RpClient, error_chain};
use super::failed;
use super::start::rp_client;
use crate::http::client_ip::client_ip;
use crate::http::oauth::authorize::login_page;
use crate::http::oauth::browser::{self, load_bound};
use crate::http::oauth::context::{TenantEntry, TenantScope, blocking};
use crate::http::oauth::steps::{self, Waiting};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct Answer {
    state: Option<String>,
    code: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `GET {issuer}/upstream/callback`.
pub async fn callback(
    req: HttpRequest,
    tenant: TenantScope,
    answer: web::Query<Answer>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle(&req, &state, &tenant, answer.into_inner()).await {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(error = %e, "upstream sign-in failed");
            super::failure_page(&req)
        }
    }
}

/// A reason for the audit record, or the sign-in that may go on.
type Checked<T> = Result<T, String>;

async fn handle(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    answer: Answer,
) -> Result<HttpResponse, ProtocolError> {
    let (sign_in, leg, upstream) = match waiting(req, state, tenant, answer.state.as_deref()).await? {
        Ok(found) => found,
        Err((upstream, reason)) => return failed(req, state, tenant, upstream.as_ref(), &reason).await,
    };
    let (claims, id_token) = match validate(state, tenant, &upstream, &leg, &answer).await {
        Ok(c) => c,
        Err(reason) => return failed(req, state, tenant, Some(&upstream), &reason).await,
    };
    let account = accounts::account_for(state, tenant, &upstream, &claims).await?;
    let user = match account {
        Account::Ready { user, how } => {
            audit_success(req, state, tenant, &upstream, &claims, &user.id, how).await?;
            user
        }
        Account::Refused(reason) => return failed(req, state, tenant, Some(&upstream), reason).await,
        Account::AskLocalSignIn => return ask_local_sign_in(state, tenant, &upstream, &claims, sign_in).await,
    };
    accounts::map_roles(state, &upstream, &user, &claims).await?;
    let user = accounts::sync_profile(state, &upstream, user, &claims).await?;
    // The sign-in goes on under a fresh waiting record (new binding and synchronizer token)
    // through its remaining steps (a local second factor, enrolment) to the session.
    let federated = upstream.settings.end_session.then(|| Federated { upstream_id: upstream.id.clone(), id_token });
    let sign_in = SignIn { upstream: None, link: None, ceremony: None, progress: None, federated, ..sign_in };
    let (pending, record) = browser::start_pending_record(state, tenant, &sign_in).await?;
    let w = Waiting { pending: record, csrf: pending.csrf, sign_in, user };
    let mut methods = methods(&upstream.settings, &claims);
    if steps::is_administrator(state, &w.user).await? {
        // A6: administrators present a local second factor; an upstream's word is not enough.
        methods.retain(|m| m != gatehouse_core::mfa::amr::MFA);
    }
    let res = steps::advance(req, state, tenant, w, methods, None).await?;
    let mut res = end_redirect_chain(res);
    res.add_cookie(&pending.binding).map_err(ProtocolError::server)?;
    Ok(res)
}

/// A redirect answering the callback becomes a page that navigates on: the callback is itself
/// the end of a redirect chain that began with a form on the upstream's login page, and
/// Chromium holds every later redirect of that chain to that page's CSP `form-action`
/// (Gatehouse's own pages allow only the callback's origin there), so a 303 on to the
/// application would be blocked; a document ends the chain. Cookies are kept.
fn end_redirect_chain(res: HttpResponse) -> HttpResponse {
    if res.status() != actix_web::http::StatusCode::SEE_OTHER {
        return res;
    }
    crate::http::pages::navigate_instead(&res).unwrap_or(res)
}

/// The waiting sign-in `state` names, bound to this browser, with the request it sent to its
/// upstream; taken from the store (single use) before the answer is looked at.
async fn waiting(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    sent_state: Option<&str>,
) -> Result<Result<(SignIn, UpstreamLeg, Upstream), (Option<Upstream>, String)>, ProtocolError> {
    let refused = |reason: &str| Ok(Err((None, reason.to_owned())));
    let Some(sent) = sent_state.filter(|s| s.len() <= 200 && !has_control(s)) else {
        return refused("no state in the answer");
    };
    let Some((request_id, _)) = sent.split_once('.') else { return refused("malformed state") };
    let (pending, sign_in) = match load_bound(req, state, tenant, request_id).await? {
        Ok(found) => found,
        Err(why) => return refused(&format!("state: {}", why.0)),
    };
    let Some(leg) = sign_in.upstream.clone() else { return refused("state: no upstream request waiting") };
    let same: bool = secret_hash(sent).ct_eq(&leg.state_hash).into();
    if !same {
        return refused("state mismatch");
    }
    let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), pending.id.clone());
    if !blocking(move || store.take_request(&t, &id)).await? {
        return refused("state already used");
    }
    let Some(upstream) = super::upstream_by_id(state, tenant, &leg.upstream_id).await? else {
        return refused("the upstream was removed");
    };
    Ok(Ok((sign_in, leg, upstream)))
}

/// Everything about the answer, in order; the ID token's claims if all holds.
async fn validate(
    state: &AppState,
    tenant: &TenantEntry,
    upstream: &Upstream,
    leg: &UpstreamLeg,
    answer: &Answer,
) -> Checked<(UpstreamClaims, String)> {
    if let Some(error) = &answer.error {
        // RFC 6749 §4.1.2.1: the code only (its description is the upstream's free text).
        let code: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        return Err(format!("upstream error: {code}"));
    }
    let metadata = state.upstreams.metadata(&upstream.id, &upstream.issuer, false).await?;
    check_iss(&metadata, answer.iss.as_deref())?;
    let code = answer.code.as_deref().filter(|c| !c.is_empty() && c.len() <= 2048).ok_or("no code in the answer")?;
    let client = rp_client(state, tenant, upstream, &metadata)?;
    let http = state.upstreams.http();
    let mut request = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| format!("token endpoint: {e}"))?
        .set_pkce_verifier(PkceCodeVerifier::new(leg.pkce_verifier.clone()));
    if upstream.settings.auth == UpstreamAuth::PrivateKeyJwt {
        let endpoint = metadata.token_endpoint().ok_or("no token endpoint")?;
        let assertion = client_assertion(state, tenant, upstream, endpoint.as_str()).await?;
        request = request
            .add_extra_param("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            .add_extra_param("client_assertion", assertion);
    }
    let tokens = request.request_async(&http).await.map_err(|e| format!("token request: {}", token_error(&e)))?;
    let id_token = tokens.id_token().ok_or("no ID token in the token response")?;
    let payload = match verify(&client, upstream, id_token, &leg.nonce, tokens.access_token()) {
        Err(Verify::UnknownKey) => {
            // A key the cached set does not hold: the upstream may have rotated; fetch again.
            let fresh = state.upstreams.metadata(&upstream.id, &upstream.issuer, true).await?;
            let client = rp_client(state, tenant, upstream, &fresh)?;
            verify(&client, upstream, id_token, &leg.nonce, tokens.access_token())
        }
        other => other,
    }
    .map_err(|e| match e {
        Verify::UnknownKey => "id token: signed with a key the upstream does not publish".to_owned(),
        Verify::Failed(reason) => format!("id token: {reason}"),
    })?;
    check_auth_time(leg, &payload)?;
    let claims = UpstreamClaims::from_payload(payload).ok_or_else(|| "id token: no valid sub".to_owned())?;
    Ok((claims, id_token.to_string()))
}

/// Why the token request failed, for the audit record: the upstream's error code (RFC 6749
/// §5.2; its description is free text), the transport's error, never the response body (a
/// parse error would quote its values, tokens among them).
fn token_error<T: openidconnect::ErrorResponse + 'static>(
    e: &openidconnect::RequestTokenError<super::client::HttpError, T>,
) -> String {
    use openidconnect::RequestTokenError as E;
    match e {
        E::ServerResponse(r) => {
            let json = serde_json::to_value(r).unwrap_or_default();
            let code = json.get("error").and_then(Value::as_str).unwrap_or("unknown");
            let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
            format!("upstream error {code}")
        }
        E::Request(inner) => error_chain(inner),
        E::Parse(..) => "unreadable token response".to_owned(),
        E::Other(text) => text.chars().take(100).collect(),
    }
}

/// RFC 7523 §3, OIDC Core §9 `private_key_jwt`: an assertion for the upstream's token
/// endpoint (its exact URL as `aud`, so it is good there only), signed with the tenant's
/// current ES256 key, short-lived and with a unique `jti`.
async fn client_assertion(
    state: &AppState,
    tenant: &TenantEntry,
    upstream: &Upstream,
    token_endpoint: &str,
) -> Checked<String> {
    use gatehouse_core::jose::SigningAlg;
    let keys = state.keys(&tenant.tenant.id, SigningAlg::Es256).await.map_err(|e| format!("signing key: {e}"))?;
    let signer = keys.signer(SigningAlg::Es256).map_err(|e| format!("signing key: {e}"))?;
    let now = gatehouse_core::UnixTime::now().0;
    let claims = json!({
        "iss": upstream.client_id,
        "sub": upstream.client_id,
        "aud": token_endpoint,
        "jti": gatehouse_core::crypto::random_token(),
        "iat": now,
        "exp": now + 60,
    });
    signer.sign("JWT", &claims).map_err(|e| format!("client assertion: {e}"))
}

/// OIDC Core §3.1.3.7 (11): where `max_age` (or `prompt=login`) was passed on, the ID token
/// must carry an `auth_time` no older than it allows, counted from when the request was sent
/// (a minute of clock skew allowed): an upstream that ignored the demand gives no sign-in.
fn check_auth_time(leg: &UpstreamLeg, payload: &Value) -> Checked<()> {
    let Some(max_age) = leg.max_age else { return Ok(()) };
    let auth_time = payload.get("auth_time").and_then(Value::as_i64).ok_or("id token: no auth_time for max_age")?;
    if auth_time.saturating_add(max_age).saturating_add(60) < leg.sent_at {
        return Err("id token: auth_time older than max_age (no fresh sign-in upstream)".into());
    }
    Ok(())
}

/// RFC 9207 §2.4: an `iss` in the answer must be the upstream's issuer; an upstream that says
/// it always sends one must have sent it (a mix-up attack otherwise).
fn check_iss(metadata: &Metadata, iss: Option<&str>) -> Checked<()> {
    let issuer = metadata.issuer().as_str();
    match iss {
        Some(i) if i == issuer => Ok(()),
        Some(_) => Err("iss in the answer is not the upstream's issuer".into()),
        None if metadata.additional_metadata().authorization_response_iss_parameter_supported == Some(true) => {
            Err("no iss in the answer of an upstream that sends it".into())
        }
        None => Ok(()),
    }
}

enum Verify {
    UnknownKey,
    Failed(String),
}

/// The asymmetric algorithms an upstream's ID token may be signed with (never HMAC with the
/// client secret, never `none`).
const ALGS: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// OIDC Core §3.1.3.7: the ID token's signature against the keys `client` was built with, `iss`, `aud` (no
/// other audience), `exp`, `nonce` (by `openidconnect`), then `azp` and `at_hash` (§3.1.3.8),
/// which the crate leaves to its caller. The payload's claims as JSON.
fn verify(
    client: &RpClient,
    upstream: &Upstream,
    id_token: &CoreIdToken,
    nonce: &str,
    access_token: &AccessToken,
) -> Result<Value, Verify> {
    let verifier = client.id_token_verifier().set_allowed_algs(ALGS);
    let claims = id_token.claims(&verifier, &Nonce::new(nonce.to_owned())).map_err(|e| match e {
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => Verify::UnknownKey,
        other => Verify::Failed(error_chain(&other)),
    })?;
    if let Some(azp) = claims.authorized_party()
        && azp.as_str() != upstream.client_id
    {
        return Err(Verify::Failed("azp is not Gatehouse's client id".into()));
    }
    if let Some(expected) = claims.access_token_hash() {
        let failed = |_| Verify::Failed("at_hash could not be computed".into());
        let alg = id_token.signing_alg().map_err(|e| Verify::Failed(e.to_string()))?;
        let key = id_token.signing_key(&verifier).map_err(|e| Verify::Failed(e.to_string()))?;
        let actual = AccessTokenHash::from_token(access_token, alg, key).map_err(failed)?;
        if actual != *expected {
            return Err(Verify::Failed("at_hash does not match the access token".into()));
        }
    }
    payload(id_token).ok_or_else(|| Verify::Failed("unreadable payload".into()))
}

/// The claims of a verified ID token as JSON (the role rules read any claim).
fn payload(id_token: &CoreIdToken) -> Option<Value> {
    use base64::Engine;
    let compact = id_token.to_string();
    let part = compact.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The audit record of a sign-in through an upstream, with the upstream's `amr` and `acr` (A6).
async fn audit_success(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    upstream: &Upstream,
    claims: &UpstreamClaims,
    user_id: &str,
    how: &str,
) -> Result<(), ProtocolError> {
    let mut event = AuditEvent::new(format!("user:{user_id}"), "login.upstream")
        .tenant(&tenant.tenant.id)
        .target(format!("user:{user_id}"))
        .details(json!({
            "upstream": upstream.name,
            "account": how,
            "upstream_amr": claims.amr,
            "upstream_acr": claims.acr,
        }));
    event.source_ip = client_ip(req).map(|ip| ip.to_string());
    state.audit(event).await?;
    state.metrics.count(crate::metrics::Event::UpstreamSignIn { ok: true });
    Ok(())
}

/// O8 `after-local-sign-in`: the login page again, asking for the local account once; the
/// identity is linked when that sign-in completes.
async fn ask_local_sign_in(
    state: &AppState,
    tenant: &TenantEntry,
    upstream: &Upstream,
    claims: &UpstreamClaims,
    sign_in: SignIn,
) -> Result<HttpResponse, ProtocolError> {
    let link = PendingLink {
        upstream_id: upstream.id.clone(),
        subject: claims.subject.clone(),
        display_name: upstream.display_name.clone(),
    };
    let sign_in =
        SignIn { upstream: None, link: Some(link), ceremony: None, progress: None, federated: None, ..sign_in };
    let client = match &sign_in.continuation {
        Continuation::Authorize(areq) => Some(browser::pending_client(state, tenant, areq).await?),
        Continuation::Page { .. } => None,
    };
    login_page(state, tenant, client.as_deref(), &sign_in, None).await
}
