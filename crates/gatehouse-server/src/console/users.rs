//! Users in the console (A4, A6, A8, AC4, AC5, S6, D3): searched and paged, invited, and on
//! their page: roles, unlock, second factors reset, sessions ended, deletion. Each action is
//! the API's (same permission check, same AC4 rule, same core use case).

use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_console::{SessionRow, UserPage, UserRow, UsersPage, words};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::{Action, permitted};
use gatehouse_core::admin::{self};
use gatehouse_core::model::User;
use gatehouse_core::store::UserStore;
use serde::Deserialize;

use super::{At, Done, open, outcome, page, problem_page, show};
use crate::api::below_caller;
use crate::api::problem::Problem;
use crate::api::users::{invite, target_as, view};
use crate::api::{etag_of, run_as};
use crate::http::account::{device, utc};
use crate::http::oauth::context::{TenantScope, blocking};
use crate::state::AppState;

/// The most users one page lists.
const PAGE: i64 = 50;

fn state_of(u: &User) -> &'static str {
    if u.disabled {
        "disabled"
    } else if u.password_hash.is_none() {
        "invited"
    } else if u.must_change_password {
        "must change password"
    } else {
        "active"
    }
}

fn row(u: &User) -> UserRow {
    UserRow { username: u.username.clone(), email: u.email.clone(), state: state_of(u) }
}

#[derive(Deserialize)]
pub struct ListQuery {
    search: Option<String>,
    after: Option<String>,
    done: Option<String>,
}

/// `GET …/console/t/{target}/users`.
pub async fn list(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    q: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}/users");
        let o =
            open(&req, &state, &t, At { target: &target, path: &path, action: Action::UserList, tab: "users" }, None)
                .await?;
        let q = q.into_inner();
        let printable =
            |v: &Option<String>| v.as_deref().is_none_or(|s| s.len() <= 254 && !s.chars().any(char::is_control));
        let (search, after) =
            if printable(&q.search) && printable(&q.after) { (q.search, q.after) } else { (None, None) };
        let (store, tid, s, a) = (state.store.clone(), o.target.tenant.id.clone(), search.clone(), after);
        let mut users = blocking(move || store.list_users(&tid, s.as_deref(), a.as_deref(), PAGE + 1)).await?;
        let next = (users.len() as i64 > PAGE).then(|| {
            users.truncate(PAGE as usize);
            users.last().map(|u| u.username.clone())
        });
        let can_create = permitted(&o.admin.caller.operator, Action::UserCreate, &o.target.tenant.id).is_ok();
        let mut frame = o.frame;
        frame.notice = Done { done: q.done }.notice();
        Ok(show(&UsersPage {
            title: "Users",
            frame,
            search: search.unwrap_or_default(),
            users: users.iter().map(row).collect(),
            next: next.flatten(),
            can_create,
        }))
    })
    .await
}

#[derive(Deserialize)]
pub struct NewUser {
    csrf: String,
    username: String,
    email: String,
    #[serde(default)]
    roles: String,
}

/// `POST …/users`: invites a user (A8).
pub async fn create(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    form: web::Form<NewUser>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}/users");
        let form = form.into_inner();
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &path, action: Action::UserCreate, tab: "users" },
            Some(&form.csrf),
        )
        .await?;
        let done =
            invite(&req, &state, &o.admin.caller, &o.target, form.username, form.email, words(&form.roles)).await;
        let location =
            format!("{}/users/{}?done=invited", o.frame.base, done.as_ref().map_or("", |(u, _, _)| &u.username));
        Ok(outcome(&req, o.frame, done, &location))
    })
    .await
}

/// `GET …/users/{username}`.
pub async fn show_user(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String, String)>,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let (_, target, username) = path.into_inner();
        let here = format!("/console/t/{target}/users/{username}");
        let o =
            open(&req, &state, &t, At { target: &target, path: &here, action: Action::UserRead, tab: "users" }, None)
                .await?;
        let (user, roles, level) =
            match target_as(&req, &state, &o.admin.caller, &o.target, &username, Action::UserRead).await {
                Ok(found) => found,
                Err(p) => return Ok(problem_page(&req, o.frame, &p)),
            };
        let (store, s, u) = (state.store.clone(), o.target.tenant.slug.clone(), user.username.clone());
        let (factors, _) = run_as(move || admin::user_factors(&store, &s, &u)).await.unwrap_or_default();
        let (store, s, u) = (state.store.clone(), o.target.tenant.slug.clone(), user.username.clone());
        let sessions = run_as(move || admin::user_sessions(&store, &s, &u, UnixTime::now())).await.unwrap_or_default();
        let (store, linked_of) = (state.store.clone(), user.clone());
        let identities = run_as(move || admin::user_identities(&store, &linked_of)).await.unwrap_or_default();
        let op = &o.admin.caller.operator;
        let tid = &o.target.tenant.id;
        let mut frame = o.frame;
        frame.notice = q.notice();
        Ok(show(&UserPage {
            title: "User",
            frame,
            etag: etag_of(&view(&user, &roles, level)),
            user: row(&user),
            display_name: user.display_name.clone(),
            roles: roles.join(" "),
            factors: factors.iter().map(|f| format!("{} ({})", f.name, f.kind.as_str())).collect(),
            identities: identities.into_iter().map(|i| (i.upstream, i.display_name)).collect(),
            sessions: sessions
                .iter()
                .map(|s| SessionRow {
                    sid: s.sid.clone(),
                    device: device(s.user_agent.as_deref()),
                    signed_in: utc(s.auth_time),
                    methods: s.amr.clone(),
                    last_seen: utc(s.last_seen_at),
                })
                .collect(),
            can_set_roles: permitted(op, Action::UserSetRoles, tid).is_ok(),
            can_update: permitted(op, Action::UserUpdate, tid).is_ok(),
            can_delete: permitted(op, Action::UserDelete, tid).is_ok(),
        }))
    })
    .await
}

#[derive(Deserialize)]
pub struct ActForm {
    csrf: String,
    #[serde(default)]
    roles: String,
    #[serde(default)]
    etag: String,
    #[serde(default)]
    confirm: String,
    display_name: Option<String>,
    email: Option<String>,
    disabled: Option<String>,
    sid: Option<String>,
    password: Option<gatehouse_types::Secret<String>>,
    upstream: Option<String>,
}

/// `POST …/users/{username}/{action}`: `profile`, `roles`, `password`, `unlock`, `mfa-reset`,
/// `end-session` (one), `end-sessions` (all), `unlink` (an upstream identity), `delete`.
pub async fn act(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String, String, String)>,
    form: web::Form<ActForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let (_, target, username, verb) = path.into_inner();
        let action = match verb.as_str() {
            "profile" | "unlink" => Action::UserUpdate,
            "roles" => Action::UserSetRoles,
            "unlock" => Action::UserUnlock,
            "mfa-reset" => Action::UserResetMfa,
            "end-sessions" | "end-session" => Action::UserEndSessions,
            "password" => Action::UserResetPassword,
            "delete" => Action::UserDelete,
            _ => return Ok(crate::http::errors::generic(&req, actix_web::http::StatusCode::NOT_FOUND)),
        };
        let here = format!("/console/t/{target}/users/{username}");
        let form = form.into_inner();
        let o =
            open(&req, &state, &t, At { target: &target, path: &here, action, tab: "users" }, Some(&form.csrf)).await?;
        let (user, roles, level) = match target_as(&req, &state, &o.admin.caller, &o.target, &username, action).await {
            Ok(found) => found,
            Err(p) => return Ok(problem_page(&req, o.frame, &p)),
        };
        let (store, s, actor, name) =
            (state.store.clone(), o.target.tenant.slug.clone(), o.admin.actor(), user.username.clone());
        let page_url = format!("{}/users/{}?done={verb}", o.frame.base, user.username);
        let current = etag_of(&view(&user, &roles, level));
        let stale = || Err::<(), _>(Problem::PRECONDITION_FAILED);
        let done: Result<(), Problem> = match action {
            Action::UserUpdate if verb == "unlink" => {
                let upstream = form.upstream.unwrap_or_default();
                run_as(move || admin::unlink_user_identity(&store, &actor, &user, &upstream)).await
            }
            Action::UserUpdate if form.etag != current => stale(),
            Action::UserUpdate => {
                let change = admin::UserChange {
                    display_name: form.display_name.map(|n| n.trim().to_owned()),
                    email: form.email.map(|e| e.trim().to_owned()),
                    disabled: Some(form.disabled.is_some()),
                };
                let updated = run_as(move || admin::update_user(&store, &actor, &user, &change, UnixTime::now())).await;
                state.wake_logout_delivery();
                updated.map(drop)
            }
            Action::UserSetRoles if form.etag != current => stale(),
            Action::UserSetRoles => {
                let new_roles = words(&form.roles);
                let target_name = format!("user:{}", user.id);
                match below_caller(&req, &state, &o.admin.caller, &o.target, &new_roles, action, &target_name).await {
                    Ok(_) => run_as(move || admin::set_user_roles(&store, &actor, &s, &user, &roles, &new_roles))
                        .await
                        .map(drop),
                    Err(p) => Err(p),
                }
            }
            Action::UserUnlock => run_as(move || admin::unlock_user(&store, &s, &name, &actor)).await.map(drop),
            Action::UserResetMfa => run_as(move || admin::reset_user_mfa(&store, &s, &name, &actor)).await.map(drop),
            Action::UserEndSessions => {
                // One session (`end-session`, its sid) or all of them.
                let sid = form.sid.filter(|_| verb == "end-session");
                if verb == "end-session" && sid.as_deref().is_none_or(str::is_empty) {
                    return Ok(problem_page(
                        &req,
                        o.frame,
                        &Problem::invalid("which session: a sid is required".into()),
                    ));
                }
                let ended = run_as(move || {
                    admin::end_user_sessions(&store, &s, &name, sid.as_deref(), &actor, UnixTime::now())
                })
                .await;
                state.wake_logout_delivery();
                ended.map(drop)
            }
            Action::UserResetPassword => {
                let Some(password) = form.password else {
                    return Ok(problem_page(&req, o.frame, &Problem::invalid("a password is required".into())));
                };
                let (hasher, policy) = (state.hasher.clone(), state.config.password_policy.clone());
                let reset = run_as(move || {
                    admin::reset_password(&store, &hasher, &policy, &actor, &s, &name, &password, true, UnixTime::now())
                })
                .await;
                state.wake_logout_delivery();
                reset.map(drop)
            }
            Action::UserDelete if form.confirm != "yes" => {
                Err(Problem::invalid("tick the box to confirm the deletion".into()))
            }
            Action::UserDelete if form.etag != current => stale(),
            Action::UserDelete => {
                let deleted = run_as(move || admin::delete_user(&store, &s, &name, &actor, UnixTime::now())).await;
                state.wake_logout_delivery();
                let list = format!("{}/users?done=deleted", o.frame.base);
                return Ok(outcome(&req, o.frame, deleted, &list));
            }
            _ => Err(Problem::NOT_FOUND),
        };
        Ok(outcome(&req, o.frame, done, &page_url))
    })
    .await
}
