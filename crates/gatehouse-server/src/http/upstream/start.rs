//! The way out to an upstream (O8): the authorization request, with PKCE S256 (RFC 7636), a
//! `state` that names the waiting sign-in and is bound to this browser, and a `nonce`
//! (OIDC Core §3.1.2.1), all kept with the waiting sign-in until the answer comes.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use gatehouse_core::crypto::random_token;
use gatehouse_core::federation::upstream::open_secret;
use gatehouse_core::federation::{Upstream, UpstreamAuth};
use gatehouse_core::flow::interaction::{Continuation, SignIn, UpstreamLeg};
use gatehouse_core::flow::secret_hash;
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::store::{FlowStore, UpstreamStore};
use gatehouse_types::ProtocolError;
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use serde::Deserialize;

use super::client::{Metadata, RpClient};
use super::{failed, redirect_uri};
use crate::http::oauth::browser::{PageRefused, load_pending, refused_page};
use crate::http::oauth::context::{TenantEntry, TenantScope, blocking};
use crate::http::pages;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct StartForm {
    request_id: String,
    csrf: String,
    upstream: String,
}

/// `POST {issuer}/login/upstream`: "Continue with …" on the login page.
pub async fn start(
    req: HttpRequest,
    tenant: TenantScope,
    form: web::Form<StartForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle_start(&req, &state, &tenant, form.into_inner()).await {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(error = %e, "upstream sign-in could not start");
            super::failure_page(&req)
        }
    }
}

async fn handle_start(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    form: StartForm,
) -> Result<HttpResponse, ProtocolError> {
    if [&form.request_id, &form.csrf, &form.upstream].iter().any(|f| has_control(f)) {
        return Ok(refused_page(req, &PageRefused("control character")));
    }
    let (pending, sign_in) = match load_pending(req, state, tenant, &form.request_id, &form.csrf).await? {
        Ok(p) => p,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    if sign_in.progress.is_some() {
        return Ok(refused_page(req, &PageRefused("this sign-in is past its first step")));
    }
    to_upstream(req, state, tenant, &pending.id, sign_in, &form.upstream, Via::Form).await
}

/// The relying-party client of `upstream` from its metadata (its secret opened from D1).
pub fn rp_client(
    state: &AppState,
    tenant: &TenantEntry,
    upstream: &Upstream,
    metadata: &Metadata,
) -> Result<RpClient, String> {
    // private_key_jwt: no secret is sent (the assertion is added to the token request).
    let secret = match upstream.settings.auth {
        UpstreamAuth::ClientSecret => {
            open_secret(state.store.vault(), upstream).map_err(|e| format!("client secret: {e}"))?
        }
        UpstreamAuth::PrivateKeyJwt => None,
    };
    let redirect = RedirectUrl::new(redirect_uri(state, tenant)).map_err(|e| format!("redirect uri: {e}"))?;
    let client = openidconnect::core::CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(upstream.client_id.clone()),
        secret.map(|s| ClientSecret::new(s.expose().clone())),
    )
    .set_redirect_uri(redirect);
    // RFC 6749 §2.3.1: HTTP Basic unless the upstream names only the request body.
    let methods = metadata.token_endpoint_auth_methods_supported();
    let post_only = upstream.settings.auth == UpstreamAuth::PrivateKeyJwt
        || methods.is_some_and(|m| {
            m.iter().any(|x| x.as_ref() == "client_secret_post")
                && !m.iter().any(|x| x.as_ref() == "client_secret_basic")
        });
    Ok(if post_only { client.set_auth_type(openidconnect::AuthType::RequestBody) } else { client })
}

/// How the browser asked to go to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The login page's form (its CSP `form-action` governs the redirect that answers it).
    Form,
    /// A navigation (the authorization request itself).
    Navigation,
}

/// Sends the browser of the waiting sign-in `pending_id` to the upstream `name`; the request
/// sent is recorded with the sign-in. An unknown or unreachable upstream gets the failure page.
pub async fn to_upstream(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    pending_id: &str,
    mut sign_in: SignIn,
    name: &str,
    via: Via,
) -> Result<HttpResponse, ProtocolError> {
    let (store, t, n) = (state.store.clone(), tenant.tenant.id.clone(), name.to_owned());
    let Some(upstream) = blocking(move || store.upstream_by_name(&t, &n)).await? else {
        return failed(req, state, tenant, None, "no such upstream").await;
    };
    let metadata = match state.upstreams.metadata(&upstream.id, &upstream.issuer, false).await {
        Ok(m) => m,
        Err(reason) => return failed(req, state, tenant, Some(&upstream), &reason).await,
    };
    let client = match rp_client(state, tenant, &upstream, &metadata) {
        Ok(c) => c,
        Err(reason) => return failed(req, state, tenant, Some(&upstream), &reason).await,
    };
    let verifier = PkceCodeVerifier::new(random_token());
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    let state_value = format!("{pending_id}.{}", random_token());
    let nonce = random_token();
    let (sent_state, sent_nonce) = (state_value.clone(), nonce.clone());
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(sent_state),
            move || Nonce::new(sent_nonce),
        )
        .set_pkce_challenge(challenge);
    for scope in upstream.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    // OIDC Core §3.1.2.1: the application's hint goes on, so the upstream can fill it in, and
    // so does a demand for a fresh sign-in (`prompt=login`, `max_age`), which a session at the
    // upstream would otherwise answer without one.
    let mut max_age = None;
    if let Continuation::Authorize(areq) = &sign_in.continuation {
        if let Some(hint) = &areq.login_hint {
            request = request.add_extra_param("login_hint", hint.clone());
        }
        if areq.prompt.iter().any(|p| p == "login") {
            request = request.add_extra_param("prompt", "login");
            max_age = Some(0);
        }
        if let Some(seconds) = areq.max_age {
            request = request.add_extra_param("max_age", seconds.to_string());
            max_age = Some(max_age.map_or(seconds, |m: i64| m.min(seconds)));
        }
    }
    let (url, _, _) = request.url();
    sign_in.upstream = Some(UpstreamLeg {
        upstream_id: upstream.id.clone(),
        state_hash: secret_hash(&state_value),
        nonce,
        pkce_verifier: verifier.secret().clone(),
        max_age,
        sent_at: gatehouse_core::UnixTime::now().0,
    });
    let params = serde_json::to_string(&sign_in).map_err(ProtocolError::server)?;
    let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), pending_id.to_owned());
    blocking(move || store.update_request(&t, &id, &params)).await?;
    Ok(go(url.as_str(), &upstream, metadata.issuer().as_str(), via))
}

#[derive(Template)]
#[template(path = "upstream_continue.html")]
struct ContinuePage<'a> {
    display_name: &'a str,
    href: &'a str,
}

/// A 303 to the upstream's authorization endpoint. The login page's CSP allows its form's
/// answer to redirect to the upstream's issuer origin (Chromium holds such redirects to
/// `form-action`); from the form, an endpoint on another origin gets a page with a link
/// instead (a navigation the page's CSP does not govern).
fn go(url: &str, upstream: &Upstream, issuer: &str, via: Via) -> HttpResponse {
    let origin = |u: &str| url::Url::parse(u).map(|u| u.origin().ascii_serialization()).ok();
    if via == Via::Navigation || (origin(url).is_some() && origin(url) == origin(issuer)) {
        let mut res = HttpResponse::SeeOther().finish();
        if let Ok(v) = HeaderValue::from_str(url) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return res;
    }
    pages::render(&ContinuePage { display_name: &upstream.display_name, href: url }, StatusCode::OK, pages::PAGE_CSP)
}
