//! A tenant's upstream providers in the console (O8): listed, added, removed.

use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_console::{UpstreamRow, UpstreamsPage};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::Action;
use gatehouse_core::admin::{self, UpstreamInput};
use gatehouse_types::Secret;
use serde::Deserialize;

use super::{At, Done, open, outcome, page, show};
use crate::api::run_as;
use crate::http::oauth::context::TenantScope;
use crate::state::AppState;

/// `GET …/console/t/{target}/upstreams`.
pub async fn list(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let here = format!("/console/t/{target}/upstreams");
        let at = At { target: &target, path: &here, action: Action::UpstreamList, tab: "upstreams" };
        let o = open(&req, &state, &t, at, None).await?;
        let (store, s) = (state.store.clone(), o.target.tenant.slug.clone());
        let all = run_as(move || admin::list_upstreams(&store, &s)).await.unwrap_or_default();
        let upstreams = all
            .iter()
            .map(|u| UpstreamRow {
                name: u.name.clone(),
                display_name: u.display_name.clone(),
                issuer: u.issuer.clone(),
                link: u.settings.link.as_str(),
                jit: u.settings.jit,
                trust_mfa: u.settings.trust_mfa,
                end_session: u.settings.end_session,
                sync_profile: u.settings.sync_profile,
                role_rules: u.settings.role_rules.iter().map(ToString::to_string).collect(),
            })
            .collect();
        let mut frame = o.frame;
        frame.notice = q.notice();
        let issuer = format!("{}/tenants/{}", state.config.public_url, o.target.tenant.slug);
        Ok(show(&UpstreamsPage { title: "Upstreams", frame, issuer, upstreams }))
    })
    .await
}

#[derive(Deserialize)]
pub struct NewUpstream {
    csrf: String,
    name: String,
    #[serde(default)]
    display_name: String,
    issuer: String,
    client_id: String,
    client_secret: Secret<String>,
    scope: String,
    link: String,
    trusted_email: Option<String>,
    jit: Option<String>,
    trust_mfa: Option<String>,
    end_session: Option<String>,
    sync_profile: Option<String>,
    #[serde(default)]
    role_rules: String,
}

/// `POST …/upstreams`: adds an upstream.
pub async fn add(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    form: web::Form<NewUpstream>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let here = format!("/console/t/{target}/upstreams");
        let f = form.into_inner();
        let at = At { target: &target, path: &here, action: Action::UpstreamCreate, tab: "upstreams" };
        let o = open(&req, &state, &t, at, Some(&f.csrf)).await?;
        let input = UpstreamInput {
            display_name: Some(f.display_name.trim().to_owned()).filter(|n| !n.is_empty()),
            issuer: Some(f.issuer.trim().to_owned()),
            client_id: Some(f.client_id.trim().to_owned()),
            client_secret: Some(f.client_secret),
            scope: Some(f.scope),
            link: Some(f.link),
            trusted_email: Some(f.trusted_email.is_some()),
            jit: Some(f.jit.is_some()),
            trust_mfa: Some(f.trust_mfa.is_some()),
            end_session: Some(f.end_session.is_some()),
            sync_profile: Some(f.sync_profile.is_some()),
            auth: None,
            domains: None,
            role_rules: Some(
                f.role_rules.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
            ),
        };
        let (store, actor, s, name) = (state.store.clone(), o.admin.actor(), o.target.tenant.slug.clone(), f.name);
        let added = run_as(move || {
            admin::add_upstream(&store, store.vault(), &actor, &s, name.trim(), &input, UnixTime::now())
        })
        .await;
        let location = format!("{}/upstreams?done=upstream", o.frame.base);
        Ok(outcome(&req, o.frame, added, &location))
    })
    .await
}

#[derive(Deserialize)]
pub struct RemoveForm {
    csrf: String,
}

/// `POST …/upstreams/{name}/remove`.
pub async fn remove(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String, String)>,
    form: web::Form<RemoveForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target, name) = path.into_inner();
    page(&req, async {
        let here = format!("/console/t/{target}/upstreams");
        let at = At { target: &target, path: &here, action: Action::UpstreamDelete, tab: "upstreams" };
        let o = open(&req, &state, &t, at, Some(&form.csrf)).await?;
        let (store, actor, tid) = (state.store.clone(), o.admin.actor(), o.target.tenant.id.clone());
        let removed = run_as(move || {
            let before = admin::require_upstream(&store, &tid, &name)?;
            admin::remove_upstream(&store, &actor, &before)
        })
        .await;
        let location = format!("{}/upstreams?done=deleted", o.frame.base);
        Ok(outcome(&req, o.frame, removed, &location))
    })
    .await
}
