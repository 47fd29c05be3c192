//! Tenants in the console (AC1): listed and created by platform administrators.

use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_console::{TenantRow, TenantsPage};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::Action;
use gatehouse_core::admin::{self, CreateTenant};
use gatehouse_core::store::TenantStore;
use serde::Deserialize;

use super::{At, Done, open, outcome, page, show};
use crate::api::run_as;
use crate::http::oauth::context::{TenantScope, blocking};
use crate::state::AppState;

/// `GET …/console/tenants`.
pub async fn list(req: HttpRequest, t: TenantScope, q: web::Query<Done>, state: web::Data<AppState>) -> HttpResponse {
    page(&req, async {
        let own = t.tenant.slug.clone();
        let o = open(
            &req,
            &state,
            &t,
            At { target: &own, path: "/console/tenants", action: Action::TenantList, tab: "tenants" },
            None,
        )
        .await?;
        let store = state.store.clone();
        let all = blocking(move || store.list_tenants()).await?;
        let public_url = &state.config.public_url;
        let tenants = all
            .iter()
            .map(|t| TenantRow { slug: t.slug.clone(), name: t.display_name.clone(), issuer: t.issuer(public_url) })
            .collect();
        let mut frame = o.frame;
        frame.notice = q.notice();
        Ok(show(&TenantsPage { title: "Tenants", frame, tenants }))
    })
    .await
}

#[derive(Deserialize)]
pub struct NewTenant {
    csrf: String,
    slug: String,
    #[serde(default)]
    display_name: String,
}

/// `POST …/console/tenants`.
pub async fn create(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<NewTenant>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let own = t.tenant.slug.clone();
        let form = form.into_inner();
        let o = open(
            &req,
            &state,
            &t,
            At { target: &own, path: "/console/tenants", action: Action::TenantCreate, tab: "tenants" },
            Some(&form.csrf),
        )
        .await?;
        let input = CreateTenant {
            slug: form.slug.trim().to_owned(),
            display_name: Some(form.display_name.trim().to_owned()).filter(|n| !n.is_empty()),
            ..Default::default()
        };
        let (store, actor) = (state.store.clone(), o.admin.actor());
        let created = run_as(move || admin::create_tenant(&store, &actor, &input, UnixTime::now())).await;
        let location = format!("{}/tenants?done=tenant", o.frame.home);
        Ok(outcome(&req, o.frame, created, &location))
    })
    .await
}
