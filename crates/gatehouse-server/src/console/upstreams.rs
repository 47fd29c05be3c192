//! A tenant's upstream providers in the console (O8): listed, added, changed, removed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_console::{UpstreamEditPage, UpstreamForm, UpstreamRow, UpstreamsPage, lines};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::Action;
use gatehouse_core::admin::{self, UpstreamInput};
use gatehouse_core::federation::Upstream;
use gatehouse_types::Secret;
use serde::Deserialize;

use super::{At, Done, Opened, open, outcome, page, problem_page, see_other, show};
use crate::api::problem::Problem;
use crate::api::{etag_of, run_as};
use crate::http::oauth::context::TenantScope;
use crate::http::pages::{PAGE_CSP, render};
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
        let form = UpstreamForm::default();
        Ok(show(&UpstreamsPage { title: "Upstreams", frame, issuer, upstreams, form, etag: None }))
    })
    .await
}

/// What the upstream form sends (O8); on a change, an empty secret keeps the current one.
#[derive(Deserialize)]
pub struct UpstreamFields {
    csrf: String,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
    issuer: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<Secret<String>>,
    scope: String,
    link: String,
    #[serde(default)]
    auth: Option<String>,
    trusted_email: Option<String>,
    jit: Option<String>,
    trust_mfa: Option<String>,
    end_session: Option<String>,
    sync_profile: Option<String>,
    #[serde(default)]
    domains: String,
    #[serde(default)]
    role_rules: String,
}

impl UpstreamFields {
    /// The use case's input: every field set (a form shows them all), the secret only if given.
    fn input(&self) -> UpstreamInput {
        UpstreamInput {
            display_name: Some(self.display_name.trim().to_owned()).filter(|n| !n.is_empty()),
            issuer: Some(self.issuer.trim().to_owned()),
            client_id: Some(self.client_id.trim().to_owned()),
            client_secret: self.client_secret.clone().filter(|s| !s.expose().is_empty()),
            scope: Some(self.scope.clone()),
            link: Some(self.link.clone()),
            trusted_email: Some(self.trusted_email.is_some()),
            jit: Some(self.jit.is_some()),
            trust_mfa: Some(self.trust_mfa.is_some()),
            end_session: Some(self.end_session.is_some()),
            sync_profile: Some(self.sync_profile.is_some()),
            auth: self.auth.clone(),
            domains: Some(lines(&self.domains)),
            role_rules: Some(lines(&self.role_rules)),
        }
    }
}

/// `POST …/upstreams`: adds an upstream.
pub async fn add(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    form: web::Form<UpstreamFields>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let here = format!("/console/t/{target}/upstreams");
        let f = form.into_inner();
        let at = At { target: &target, path: &here, action: Action::UpstreamCreate, tab: "upstreams" };
        let o = open(&req, &state, &t, at, Some(&f.csrf)).await?;
        let input = f.input();
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

/// The form of `u` as stored (never its secret).
fn form_of(u: &Upstream) -> UpstreamForm {
    UpstreamForm {
        name: u.name.clone(),
        display_name: u.display_name.clone(),
        issuer: u.issuer.clone(),
        client_id: u.client_id.clone(),
        scope: u.scopes.join(" "),
        link: u.settings.link.as_str().to_owned(),
        trusted_email: u.settings.trusted_email,
        jit: u.settings.jit,
        trust_mfa: u.settings.trust_mfa,
        end_session: u.settings.end_session,
        sync_profile: u.settings.sync_profile,
        auth: u.settings.auth.as_str().to_owned(),
        domains: u.settings.domains.join("\n"),
        role_rules: u.settings.role_rules.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
    }
}

/// The change page of `u`, with the version it shows.
fn edit_page(state: &AppState, o: Opened, u: &Upstream, form: UpstreamForm, status: StatusCode) -> HttpResponse {
    let issuer = format!("{}/tenants/{}", state.config.public_url, o.target.tenant.slug);
    let etag = Some(etag_of(&crate::api::upstreams::view(u)));
    render(&UpstreamEditPage { title: "Change an upstream", frame: o.frame, issuer, form, etag }, status, PAGE_CSP)
}

/// `GET …/upstreams/{name}`: the change form.
pub async fn edit(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target, name) = path.into_inner();
    page(&req, async {
        let here = format!("/console/t/{target}/upstreams/{name}");
        let at = At { target: &target, path: &here, action: Action::UpstreamUpdate, tab: "upstreams" };
        let o = open(&req, &state, &t, at, None).await?;
        let (store, tid) = (state.store.clone(), o.target.tenant.id.clone());
        match run_as(move || admin::require_upstream(&store, &tid, &name)).await {
            Ok(u) => Ok(edit_page(&state, o, &u, form_of(&u), StatusCode::OK)),
            Err(p) => Ok(problem_page(&req, o.frame, &p)),
        }
    })
    .await
}

/// `POST …/upstreams/{name}`: the upstream's new settings (a new secret if one is given),
/// against the version the form showed.
pub async fn update(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String, String)>,
    form: web::Form<UpstreamFields>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target, name) = path.into_inner();
    page(&req, async {
        let here = format!("/console/t/{target}/upstreams/{name}");
        let f = form.into_inner();
        let at = At { target: &target, path: &here, action: Action::UpstreamUpdate, tab: "upstreams" };
        let o = open(&req, &state, &t, at, Some(&f.csrf)).await?;
        let (store, tid) = (state.store.clone(), o.target.tenant.id.clone());
        let before = match run_as(move || admin::require_upstream(&store, &tid, &name)).await {
            Ok(u) => u,
            Err(p) => return Ok(problem_page(&req, o.frame, &p)),
        };
        let saved = if f.etag.as_deref() != Some(etag_of(&crate::api::upstreams::view(&before)).as_str()) {
            Err(Problem::PRECONDITION_FAILED)
        } else {
            let (store, actor, b, input) = (state.store.clone(), o.admin.actor(), before.clone(), f.input());
            run_as(move || admin::update_upstream(&store, store.vault(), &actor, &b, &input)).await
        };
        match saved {
            Ok(_) => Ok(see_other(&format!("{}/upstreams?done=upstream-saved", o.frame.base))),
            Err(p) if p.status == StatusCode::BAD_REQUEST => {
                let mut o = o;
                o.frame.error = Some(p.detail.as_deref().unwrap_or(p.title).to_owned());
                let shown = UpstreamForm { name: before.name.clone(), ..fields_form(&f) };
                Ok(edit_page(&state, o, &before, shown, p.status))
            }
            Err(p) => Ok(problem_page(&req, o.frame, &p)),
        }
    })
    .await
}

/// What the person typed, shown again with the error (the secret never).
fn fields_form(f: &UpstreamFields) -> UpstreamForm {
    UpstreamForm {
        name: f.name.clone(),
        display_name: f.display_name.clone(),
        issuer: f.issuer.clone(),
        client_id: f.client_id.clone(),
        scope: f.scope.clone(),
        link: f.link.clone(),
        trusted_email: f.trusted_email.is_some(),
        jit: f.jit.is_some(),
        trust_mfa: f.trust_mfa.is_some(),
        end_session: f.end_session.is_some(),
        sync_profile: f.sync_profile.is_some(),
        auth: f.auth.clone().unwrap_or_default(),
        domains: f.domains.clone(),
        role_rules: f.role_rules.clone(),
    }
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
