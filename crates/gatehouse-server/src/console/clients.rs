//! Clients in the console (O2, O3, O4, O7): listed, registered with a form that explains each
//! setting, shown, their secret rotated (shown once), deleted.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_console::{ClientForm, ClientNewPage, ClientPage, ClientRow, ClientsPage, Frame, lines, words};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::Action;
use gatehouse_core::admin::{self, CreateClient};
use gatehouse_core::model::Client;
use gatehouse_core::store::AdminStore;
use serde::Deserialize;

use super::{At, Done, Opened, open, outcome, page, problem_page, show};
use crate::api::below_caller;
use crate::api::clients::client_target_as;
use crate::api::problem::Problem;
use crate::api::{etag_of, run_as};
use crate::http::account::utc;
use crate::http::oauth::context::{TenantScope, blocking};
use crate::http::pages::{PAGE_CSP, render};
use crate::state::AppState;

fn row(c: &Client) -> ClientRow {
    ClientRow {
        client_id: c.client_id.clone(),
        name: c.name.clone(),
        kind: c.client_type.as_str().to_owned(),
        grants: c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", "),
    }
}

fn or_none(list: &[String]) -> String {
    if list.is_empty() { "none".into() } else { list.join(", ") }
}

/// The client's page, with a new secret shown this once.
fn client_page(frame: Frame, c: &Client, secret: Option<String>) -> ClientPage {
    let settings = vec![
        ("Redirect URIs", or_none(&c.redirect_uris)),
        ("Post-logout redirect URIs", or_none(&c.post_logout_redirect_uris)),
        ("Web origins", or_none(&c.web_origins)),
        ("Scopes", c.scope.clone()),
        ("Audiences", or_none(&c.audiences)),
        ("Access token lifetime", format!("{} s", c.access_token_ttl)),
        ("Refresh token lifetime", format!("{} s", c.refresh_token_ttl)),
        ("Signing algorithm", c.signing_alg.as_str().to_owned()),
        ("Back-channel logout URI", c.backchannel_logout_uri.clone().unwrap_or_else(|| "none".into())),
        ("First-party", if c.first_party { "yes" } else { "no" }.to_owned()),
        ("Roles", or_none(&c.roles)),
        ("Registered", utc(c.created_at)),
    ];
    let etag = etag_of(&crate::api::clients::view(c));
    ClientPage { title: "Client", frame, client: row(c), settings, secret, etag }
}

/// `GET …/clients`.
pub async fn list(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}/clients");
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &path, action: Action::ClientList, tab: "clients" },
            None,
        )
        .await?;
        let (store, tid) = (state.store.clone(), o.target.tenant.id.clone());
        let clients = blocking(move || store.list_clients(&tid)).await?;
        let mut frame = o.frame;
        frame.notice = q.notice();
        Ok(show(&ClientsPage { title: "Clients", frame, clients: clients.iter().map(row).collect() }))
    })
    .await
}

/// `GET …/clients/new`.
pub async fn new(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}/clients/new");
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &path, action: Action::ClientCreate, tab: "clients" },
            None,
        )
        .await?;
        let action = format!("{}/clients", o.frame.base);
        Ok(show(&ClientNewPage {
            title: "Register a client",
            frame: o.frame,
            form: ClientForm::default(),
            action,
            etag: None,
            submit: "Register client",
        }))
    })
    .await
}

/// What the registration form sends.
#[derive(Deserialize)]
pub struct NewClient {
    csrf: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    grant_authorization_code: Option<String>,
    grant_refresh_token: Option<String>,
    grant_client_credentials: Option<String>,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    #[serde(default)]
    web_origins: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    audiences: String,
    #[serde(default)]
    access_token_ttl: String,
    #[serde(default)]
    refresh_token_ttl: String,
    #[serde(default)]
    signing_alg: String,
    #[serde(default)]
    backchannel_logout_uri: String,
    first_party: Option<String>,
    #[serde(default)]
    roles: String,
    /// A change: the version of the client the form showed.
    etag: Option<String>,
}

impl NewClient {
    /// The form as it was filled in (shown again with an error).
    fn form(&self) -> ClientForm {
        ClientForm {
            name: self.name.clone(),
            kind: self.kind.clone(),
            code: self.grant_authorization_code.is_some(),
            refresh: self.grant_refresh_token.is_some(),
            client_credentials: self.grant_client_credentials.is_some(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            web_origins: self.web_origins.clone(),
            scope: self.scope.clone(),
            audiences: self.audiences.clone(),
            access_token_ttl: self.access_token_ttl.clone(),
            refresh_token_ttl: self.refresh_token_ttl.clone(),
            signing_alg: self.signing_alg.clone(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            first_party: self.first_party.is_some(),
            roles: self.roles.clone(),
        }
    }

    /// The use case's input; a lifetime that is not a number is refused here.
    fn input(&self, tenant: &str) -> Result<CreateClient, Problem> {
        let ttl = |v: &str, what: &str| -> Result<Option<i64>, Problem> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse().map(Some).map_err(|_| Problem::invalid(format!("{what} must be a number of seconds")))
        };
        let grants = [
            (self.grant_authorization_code.is_some(), "authorization_code"),
            (self.grant_refresh_token.is_some(), "refresh_token"),
            (self.grant_client_credentials.is_some(), "client_credentials"),
        ];
        Ok(CreateClient {
            tenant: tenant.to_owned(),
            name: self.name.trim().to_owned(),
            client_type: self.kind.clone(),
            redirect_uris: lines(&self.redirect_uris),
            post_logout_redirect_uris: lines(&self.post_logout_redirect_uris),
            grant_types: grants.iter().filter(|(on, _)| *on).map(|(_, g)| (*g).to_owned()).collect(),
            scope: self.scope.trim().to_owned(),
            first_party: self.first_party.is_some(),
            audiences: words(&self.audiences),
            access_token_ttl: ttl(&self.access_token_ttl, "the access token lifetime")?,
            refresh_token_ttl: ttl(&self.refresh_token_ttl, "the refresh token lifetime")?,
            signing_alg: Some(self.signing_alg.clone()).filter(|a| !a.is_empty()),
            web_origins: lines(&self.web_origins),
            backchannel_logout_uri: Some(self.backchannel_logout_uri.trim().to_owned()).filter(|u| !u.is_empty()),
            jwks: None,
            roles: words(&self.roles),
        })
    }
}

/// `POST …/clients`: registers the client and shows its page (with the secret, once).
pub async fn create(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    form: web::Form<NewClient>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}/clients/new");
        let form = form.into_inner();
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &path, action: Action::ClientCreate, tab: "clients" },
            Some(&form.csrf),
        )
        .await?;
        let created = match form.input(&o.target.tenant.slug) {
            Ok(input) => {
                let name = format!("tenant:{}", o.target.tenant.id);
                let caller = &o.admin.caller;
                match below_caller(&req, &state, caller, &o.target, &input.roles, Action::ClientCreate, &name).await {
                    Ok(_) => {
                        let (store, actor) = (state.store.clone(), o.admin.actor());
                        run_as(move || admin::create_client(&store, store.vault(), &actor, &input, UnixTime::now()))
                            .await
                    }
                    Err(p) => Err(p),
                }
            }
            Err(p) => Err(p),
        };
        match created {
            Ok(c) => {
                let secret = c.client_secret.map(|s| s.expose().clone());
                Ok(show(&client_page(o.frame, &c.client, secret)))
            }
            Err(p) if p.status == StatusCode::BAD_REQUEST || p.status == StatusCode::CONFLICT => {
                let mut frame = o.frame;
                frame.error = Some(p.detail.as_deref().unwrap_or(p.title).to_owned());
                let action = format!("{}/clients", frame.base);
                let page = ClientNewPage {
                    title: "Register a client",
                    frame,
                    form: form.form(),
                    action,
                    etag: None,
                    submit: "Register client",
                };
                Ok(render(&page, p.status, PAGE_CSP))
            }
            Err(p) => Ok(problem_page(&req, o.frame, &p)),
        }
    })
    .await
}

/// The client `id` of the opened tenant, if the administrator may act on it with `action`
/// (AC4: a service client's roles below their level; the API's check).
async fn client_of(
    req: &HttpRequest,
    state: &AppState,
    o: &Opened,
    id: &str,
    action: Action,
) -> Result<Client, Problem> {
    client_target_as(req, state, &o.admin.caller, &o.target, id, action).await
}

/// `GET …/clients/{client_id}`.
pub async fn show_client(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let (_, target, id) = path.into_inner();
        let here = format!("/console/t/{target}/clients/{id}");
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &here, action: Action::ClientRead, tab: "clients" },
            None,
        )
        .await?;
        match client_of(&req, &state, &o, &id, Action::ClientRead).await {
            Ok(c) => Ok(show(&client_page(o.frame, &c, None))),
            Err(p) => Ok(problem_page(&req, o.frame, &p)),
        }
    })
    .await
}

#[derive(Deserialize)]
pub struct ActForm {
    csrf: String,
    #[serde(default)]
    etag: String,
    #[serde(default)]
    confirm: String,
}

/// `POST …/clients/{client_id}/{action}`: `secret` (a new one, shown once) or `delete`.
pub async fn act(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String, String, String)>,
    form: web::Form<ActForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let (_, target, id, verb) = path.into_inner();
        let action = match verb.as_str() {
            "secret" => Action::ClientRotateSecret,
            "delete" => Action::ClientDelete,
            _ => return Ok(crate::http::errors::generic(&req, StatusCode::NOT_FOUND)),
        };
        let here = format!("/console/t/{target}/clients/{id}");
        let form = form.into_inner();
        let o = open(&req, &state, &t, At { target: &target, path: &here, action, tab: "clients" }, Some(&form.csrf))
            .await?;
        let client = match client_of(&req, &state, &o, &id, action).await {
            Ok(c) => c,
            Err(p) => return Ok(problem_page(&req, o.frame, &p)),
        };
        let (store, actor) = (state.store.clone(), o.admin.actor());
        let (tid, cid) = (client.tenant_id.clone(), client.client_id.clone());
        if action == Action::ClientRotateSecret {
            let before = client.clone();
            return match run_as(move || admin::rotate_client_secret(&store, store.vault(), &actor, &before)).await {
                Ok(secret) => {
                    state.caches.forget_client(&tid, &cid);
                    Ok(show(&client_page(o.frame, &client, Some(secret.expose().clone()))))
                }
                Err(p) => Ok(problem_page(&req, o.frame, &p)),
            };
        }
        let current = etag_of(&crate::api::clients::view(&client));
        let deleted = if form.confirm != "yes" {
            Err(Problem::invalid("tick the box to confirm the deletion".into()))
        } else if form.etag != current {
            Err(Problem::PRECONDITION_FAILED)
        } else {
            run_as(move || admin::delete_client(&store, &actor, &client)).await
        };
        if deleted.is_ok() {
            state.caches.forget_client(&tid, &cid);
        }
        let list = format!("{}/clients?done=deleted", o.frame.base);
        Ok(outcome(&req, o.frame, deleted, &list))
    })
    .await
}

/// The form of a registered client's settings.
fn form_of(c: &Client) -> ClientForm {
    let has = |g: &str| c.grant_types.iter().any(|t| t.as_str() == g);
    ClientForm {
        name: c.name.clone(),
        kind: c.client_type.as_str().to_owned(),
        code: has("authorization_code"),
        refresh: has("refresh_token"),
        client_credentials: has("client_credentials"),
        redirect_uris: c.redirect_uris.join("\n"),
        post_logout_redirect_uris: c.post_logout_redirect_uris.join("\n"),
        web_origins: c.web_origins.join("\n"),
        scope: c.scope.clone(),
        audiences: c.audiences.join(" "),
        access_token_ttl: c.access_token_ttl.to_string(),
        refresh_token_ttl: c.refresh_token_ttl.to_string(),
        signing_alg: c.signing_alg.as_str().to_owned(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone().unwrap_or_default(),
        first_party: c.first_party,
        roles: c.roles.join(" "),
    }
}

/// The change form of `c`, with `error` if a change was refused.
fn edit_page(frame: Frame, c: &Client, form: ClientForm, status: StatusCode) -> HttpResponse {
    let action = format!("{}/clients/{}/settings", frame.base, c.client_id);
    let page = ClientNewPage {
        title: "Change a client",
        frame,
        form,
        action,
        etag: Some(etag_of(&crate::api::clients::view(c))),
        submit: "Save settings",
    };
    render(&page, status, PAGE_CSP)
}

/// `GET …/clients/{client_id}/edit`.
pub async fn edit(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let (_, target, id) = path.into_inner();
        let here = format!("/console/t/{target}/clients/{id}/edit");
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &here, action: Action::ClientUpdate, tab: "clients" },
            None,
        )
        .await?;
        match client_of(&req, &state, &o, &id, Action::ClientUpdate).await {
            Ok(c) => Ok(edit_page(o.frame, &c, form_of(&c), StatusCode::OK)),
            Err(p) => Ok(problem_page(&req, o.frame, &p)),
        }
    })
    .await
}

/// `POST …/clients/{client_id}/settings`: the client's new settings, against the version the
/// form showed (O3, AC4 for a service client's roles).
pub async fn update(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String, String)>,
    form: web::Form<NewClient>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let (_, target, id) = path.into_inner();
        let here = format!("/console/t/{target}/clients/{id}/edit");
        let form = form.into_inner();
        let at = At { target: &target, path: &here, action: Action::ClientUpdate, tab: "clients" };
        let o = open(&req, &state, &t, at, Some(&form.csrf)).await?;
        let before = match client_of(&req, &state, &o, &id, Action::ClientUpdate).await {
            Ok(c) => c,
            Err(p) => return Ok(problem_page(&req, o.frame, &p)),
        };
        let name = format!("client:{}", before.client_id);
        let caller = &o.admin.caller;
        let mut changed = if form.etag.as_deref() != Some(etag_of(&crate::api::clients::view(&before)).as_str()) {
            Err(Problem::PRECONDITION_FAILED)
        } else {
            // The form has no field for a private_key_jwt key set: the client keeps its own.
            form.input(&o.target.tenant.slug)
                .map(|input| CreateClient { jwks: before.jwks.as_ref().map(|j| j.to_string()), ..input })
        };
        // The client's own roles were checked when it was found; the new ones are checked here.
        if let Ok(input) = &changed
            && let Err(p) =
                below_caller(&req, &state, caller, &o.target, &input.roles, Action::ClientUpdate, &name).await
        {
            changed = Err(p);
        }
        let updated = match changed {
            Ok(input) => {
                let (store, actor, b) = (state.store.clone(), o.admin.actor(), before.clone());
                run_as(move || admin::update_client(&store, &actor, &b, &input)).await
            }
            Err(p) => Err(p),
        };
        match updated {
            Ok(after) => {
                state.caches.forget_client(&after.tenant_id, &after.client_id);
                let mut frame = o.frame;
                frame.notice = Some("The settings are saved.".into());
                Ok(show(&client_page(frame, &after, None)))
            }
            Err(p) if p.status == StatusCode::BAD_REQUEST || p.status == StatusCode::CONFLICT => {
                let mut frame = o.frame;
                frame.error = Some(p.detail.as_deref().unwrap_or(p.title).to_owned());
                Ok(edit_page(frame, &before, form.form(), p.status))
            }
            Err(p) => Ok(problem_page(&req, o.frame, &p)),
        }
    })
    .await
}
