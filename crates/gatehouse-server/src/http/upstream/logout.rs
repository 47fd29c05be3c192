//! RP-Initiated Logout at an upstream (O8; OpenID Connect RP-Initiated Logout 1.0 §2, with
//! Gatehouse as the relying party): a session that began at an upstream set up for it
//! (`end_session`) remembers the upstream's ID token, sealed (D1); when the session ends here,
//! the browser goes on to the upstream's `end_session_endpoint` with it as `id_token_hint`,
//! and comes back to `{issuer}/upstream/logged-out`, from where the logout goes on to where it
//! was going (a post-logout URI already checked against the client's registration).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use gatehouse_core::UnixTime;
use gatehouse_core::crypto::random_token;
use gatehouse_core::federation::Upstream;
use gatehouse_core::federation::upstream::{open_id_token, seal_id_token};
use gatehouse_core::flow::interaction::Federated;
use gatehouse_core::flow::secret_hash;
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::store::{FlowStore, PendingRequest, UpstreamStore};
use gatehouse_types::ProtocolError;
use serde::{Deserialize, Serialize};

use super::upstream_by_id;
use crate::http::oauth::context::{TenantEntry, TenantScope, blocking};
use crate::http::pages;
use crate::state::AppState;

/// How long the way back from an upstream's logout stays usable.
const BACK_TTL: i64 = 600;

/// Remembers that the session `sid` began at `federated`'s upstream, with its ID token sealed.
pub async fn remember(
    state: &AppState,
    tenant: &TenantEntry,
    sid: &str,
    federated: &Federated,
) -> Result<(), ProtocolError> {
    let Some(upstream) = upstream_by_id(state, tenant, &federated.upstream_id).await? else { return Ok(()) };
    let sealed =
        seal_id_token(state.store.vault(), &upstream, sid, &federated.id_token).map_err(ProtocolError::server)?;
    let (store, t, s) = (state.store.clone(), tenant.tenant.id.clone(), sid.to_owned());
    blocking(move || store.save_upstream_session(&t, &s, &upstream.id, &sealed)).await
}

/// The upstream session `sid` began at, if that upstream ends sessions and says where:
/// (the upstream, its `end_session_endpoint`, the sealed ID token).
pub async fn end_session_endpoint(
    state: &AppState,
    tenant: &TenantEntry,
    sid: &str,
) -> Result<Option<(Upstream, String, Vec<u8>)>, ProtocolError> {
    let (store, t, s) = (state.store.clone(), tenant.tenant.id.clone(), sid.to_owned());
    let Some((upstream_id, sealed)) = blocking(move || store.upstream_session(&t, &s)).await? else { return Ok(None) };
    let Some(upstream) = upstream_by_id(state, tenant, &upstream_id).await?.filter(|u| u.settings.end_session) else {
        return Ok(None);
    };
    match state.upstreams.metadata(&upstream.id, &upstream.issuer, false).await {
        Ok(m) => Ok(m.additional_metadata().end_session_endpoint.clone().map(|e| (upstream, e, sealed))),
        Err(reason) => {
            // Our session is over either way; the upstream's stays (said in the log).
            tracing::warn!(upstream = %upstream.name, reason, "upstream logout skipped");
            Ok(None)
        }
    }
}

/// What the way back from the upstream's logout continues to (strict: no other waiting
/// record reads as one).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Back {
    /// The post-logout URI (registered for the client) with the client's `state`.
    logout_then: Option<String>,
}

/// The URL of the upstream's logout for the ended session `sid`, with the way back to `then`;
/// `None` when the session did not begin at an upstream that ends sessions.
pub async fn logout_url(
    state: &AppState,
    tenant: &TenantEntry,
    sid: &str,
    then: Option<String>,
) -> Result<Option<String>, ProtocolError> {
    let Some((upstream, endpoint, sealed)) = end_session_endpoint(state, tenant, sid).await? else { return Ok(None) };
    let hint = open_id_token(state.store.vault(), &upstream, sid, &sealed).map_err(ProtocolError::server)?;
    let Ok(mut url) = url::Url::parse(&endpoint) else { return Ok(None) };
    let now = UnixTime::now().0;
    let back = PendingRequest {
        id: random_token(),
        tenant_id: tenant.tenant.id.clone(),
        client_id: String::new(),
        params: serde_json::to_string(&Back { logout_then: then }).map_err(ProtocolError::server)?,
        // Never continued as a sign-in: no browser holds these.
        binding_hash: secret_hash(&random_token()),
        csrf_hash: secret_hash(&random_token()),
        created_at: now,
        expires_at: now + BACK_TTL,
    };
    let back_to = format!("{}/tenants/{}/upstream/logged-out", state.config.public_url, tenant.tenant.slug);
    url.query_pairs_mut()
        .append_pair("id_token_hint", &hint)
        .append_pair("client_id", &upstream.client_id)
        .append_pair("post_logout_redirect_uri", &back_to)
        .append_pair("state", &back.id);
    let store = state.store.clone();
    blocking(move || store.save_request(&back)).await?;
    Ok(Some(url.to_string()))
}

#[derive(Deserialize)]
pub struct BackQuery {
    state: Option<String>,
}

/// `GET {issuer}/upstream/logged-out`: back from the upstream's logout; on to where the logout
/// was going (once), or the signed-out page.
pub async fn logged_out(tenant: TenantScope, q: web::Query<BackQuery>, state: web::Data<AppState>) -> HttpResponse {
    match continue_to(&state, &tenant, q.state.as_deref()).await {
        Ok(Some(then)) => HttpResponse::SeeOther().insert_header((header::LOCATION, then)).finish(),
        Ok(None) => pages::message(StatusCode::OK, "You are signed out", "You can close this window.", None),
        Err(e) => {
            tracing::error!(error = %e, "upstream logout return failed");
            pages::message(StatusCode::OK, "You are signed out", "You can close this window.", None)
        }
    }
}

async fn continue_to(
    state: &AppState,
    tenant: &TenantEntry,
    id: Option<&str>,
) -> Result<Option<String>, ProtocolError> {
    let Some(id) = id.filter(|i| i.len() <= 64 && !has_control(i)) else { return Ok(None) };
    let (store, t, i) = (state.store.clone(), tenant.tenant.id.clone(), id.to_owned());
    let Some(found) = blocking(move || store.pending_request(&t, &i, UnixTime::now().0)).await? else {
        return Ok(None);
    };
    let Ok(back) = serde_json::from_str::<Back>(&found.params) else { return Ok(None) };
    let (store, t, i) = (state.store.clone(), tenant.tenant.id.clone(), id.to_owned());
    if !blocking(move || store.take_request(&t, &i)).await? {
        return Ok(None);
    }
    Ok(back.logout_then)
}
