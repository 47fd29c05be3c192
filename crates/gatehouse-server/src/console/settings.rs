//! The tenant's overview (counts, alerts, recent security events), roles, signing keys (O4)
//! and policies (A2, A5, A6, A9, AC3) in the console.

use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_console::{EventRow, KeysPage, OverviewPage, PolicyPage, RolesPage};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::{Action, Level, permitted};
use gatehouse_core::admin::{self, AdminError, PolicyChange};
use gatehouse_core::audit::AuditRecord;
use gatehouse_core::jose::SigningAlg;
use gatehouse_core::keys;
use gatehouse_core::mfa::MfaPolicy;
use gatehouse_core::store::{AdminStore, AuditFilter, SigningKeyStore, UserStore};
use serde::Deserialize;

use super::{At, Done, level_text, open, outcome, page, show};
use crate::api::problem::Problem;
use crate::api::{etag_of, run_as};
use crate::http::account::utc;
use crate::http::oauth::context::{TenantScope, blocking};
use crate::state::AppState;

/// Users are counted up to this many.
const COUNT_LIMIT: i64 = 1000;

/// An audit record as the pages show it.
pub fn event_row(r: &AuditRecord) -> EventRow {
    EventRow {
        seq: r.seq,
        at: utc(r.at),
        action: r.action.clone(),
        actor: r.actor.clone(),
        target: r.target.clone().unwrap_or_default(),
        outcome: r.outcome.clone(),
        details: r.details.clone(),
    }
}

/// `GET …/console/t/{target}`.
pub async fn overview(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}");
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &path, action: Action::TenantRead, tab: "overview" },
            None,
        )
        .await?;
        let (op, tid) = (&o.admin.caller.operator, o.target.tenant.id.clone());
        let (store, id) = (state.store.clone(), tid.clone());
        let users = blocking(move || store.list_users(&id, None, None, COUNT_LIMIT + 1)).await?.len();
        let users = if users as i64 > COUNT_LIMIT { format!("{COUNT_LIMIT}+") } else { users.to_string() };
        let clients = if permitted(op, Action::ClientList, &tid).is_ok() {
            let (store, id) = (state.store.clone(), tid.clone());
            Some(blocking(move || store.list_clients(&id)).await?.len())
        } else {
            None
        };
        let (store, id) = (state.store.clone(), tid.clone());
        let roles = blocking(move || store.list_roles(&id)).await?.len();
        let (mut denied_24h, mut alerts, mut events) = (None, Vec::new(), Vec::new());
        if permitted(op, Action::AuditRead, &tid).is_ok() {
            let since = Some(UnixTime::now().0 - 86_400);
            let search = |action: &str, limit: i64| AuditFilter {
                tenant_id: Some(tid.clone()),
                action: Some(action.to_owned()).filter(|a| !a.is_empty()),
                since,
                limit,
                ..Default::default()
            };
            let (denied, lockouts, recent) =
                (search("api.denied", 1000), search("account.lockout", 1000), search("", 10));
            let store = state.store.clone();
            let (d, l, r) = blocking(move || {
                Ok::<_, gatehouse_core::StoreError>((
                    store.search_audit(&denied)?,
                    store.search_audit(&lockouts)?,
                    store.search_audit(&recent)?,
                ))
            })
            .await?;
            if !l.is_empty() {
                alerts.push(format!("{} account lockout(s) in the last 24 hours", l.len()));
            }
            if d.len() >= 10 {
                alerts.push(format!("{} refused administrative requests in the last 24 hours", d.len()));
            }
            denied_24h = Some(d.len());
            events = r.iter().map(event_row).collect();
        }
        Ok(show(&OverviewPage { title: "Overview", frame: o.frame, users, clients, roles, denied_24h, alerts, events }))
    })
    .await
}

/// `GET …/roles`.
pub async fn roles(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}/roles");
        let o =
            open(&req, &state, &t, At { target: &target, path: &path, action: Action::RoleList, tab: "roles" }, None)
                .await?;
        let (store, tid, platform) = (state.store.clone(), o.target.tenant.id.clone(), o.target.tenant.is_platform);
        let all = blocking(move || store.list_roles(&tid)).await?;
        let roles = all
            .into_iter()
            .map(|(name, members)| {
                let level = Level::of(std::slice::from_ref(&name), platform);
                (name, members, if level == Level::User { "none" } else { level_text(level) })
            })
            .collect();
        Ok(show(&RolesPage { title: "Roles", frame: o.frame, roles }))
    })
    .await
}

/// `GET …/keys`.
pub async fn keys(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}/keys");
        let o = open(&req, &state, &t, At { target: &target, path: &path, action: Action::KeyList, tab: "keys" }, None)
            .await?;
        let (store, tid) = (state.store.clone(), o.target.tenant.id.clone());
        let all = blocking(move || store.published_keys(&tid, UnixTime::now().0)).await?;
        let keys = all
            .iter()
            .map(|k| {
                let state =
                    k.retire_at.map_or_else(|| "current".to_owned(), |at| format!("published until {}", utc(at)));
                (k.kid.clone(), k.alg.clone(), utc(k.created_at), state)
            })
            .collect();
        let mut frame = o.frame;
        frame.notice = q.notice();
        Ok(show(&KeysPage { title: "Signing keys", frame, keys }))
    })
    .await
}

#[derive(Deserialize)]
pub struct Rotation {
    csrf: String,
    alg: String,
    overlap_secs: String,
}

/// `POST …/keys`: rotates (O4).
pub async fn rotate_key(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    form: web::Form<Rotation>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}/keys");
        let form = form.into_inner();
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &path, action: Action::KeyRotate, tab: "keys" },
            Some(&form.csrf),
        )
        .await?;
        let (store, tid, actor) = (state.store.clone(), o.target.tenant.id.clone(), o.admin.actor());
        let rotated = run_as(move || {
            let alg = SigningAlg::parse(&form.alg)
                .map_err(|_| AdminError::Invalid("alg must be ES256, RS256 or EdDSA".into()))?;
            let overlap: i64 =
                form.overlap_secs.trim().parse().map_err(|_| AdminError::Invalid("overlap must be a number".into()))?;
            if !(0..=30 * 86_400).contains(&overlap) {
                return Err(AdminError::Invalid("overlap must be between 0 and 2592000 seconds".into()));
            }
            keys::rotate(&store, store.vault(), &tid, alg, overlap, &actor, UnixTime::now())
                .map_err(|e| AdminError::Internal(e.to_string()))
        })
        .await;
        if rotated.is_ok() {
            state.caches.forget_keys(&o.target.tenant.id);
        }
        let location = format!("{}/keys?done=key", o.frame.base);
        Ok(outcome(&req, o.frame, rotated, &location))
    })
    .await
}

fn mfa_value(p: MfaPolicy) -> &'static str {
    match p {
        MfaPolicy::Off => "off",
        MfaPolicy::Optional => "optional",
        MfaPolicy::Required => "required",
    }
}

/// `GET …/policy`.
pub async fn policy(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}/policy");
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &path, action: Action::TenantPolicyUpdate, tab: "policy" },
            None,
        )
        .await?;
        let p = o.target.tenant.policy.clone();
        let mut frame = o.frame;
        frame.notice = q.notice();
        Ok(show(&PolicyPage {
            title: "Policies",
            frame,
            etag: etag_of(&serde_json::to_value(&p).unwrap_or_default()),
            mfa: mfa_value(p.mfa),
            mfa_options: vec![
                ("optional", "Optional: users may enrol"),
                ("required", "Required: every user signs in with one"),
                ("off", "Off: users are not offered one"),
            ],
            passwordless: p.passwordless,
            recent_auth_minutes: p.recent_auth_minutes,
            password_history: p.password_history,
            password_max_age_days: p.password_max_age_days,
            password_reset: p.password_reset,
            self_registration: p.self_registration,
            session_idle_minutes: p.session_idle_minutes,
            session_max_hours: p.session_max_hours,
            lockout_threshold: p.lockout_threshold,
            lockout_minutes: p.lockout_minutes,
        }))
    })
    .await
}

#[derive(Deserialize)]
pub struct PolicyForm {
    csrf: String,
    etag: String,
    mfa: String,
    passwordless: Option<String>,
    recent_auth_minutes: String,
    password_history: String,
    password_max_age_days: String,
    password_reset: Option<String>,
    self_registration: Option<String>,
    session_idle_minutes: String,
    session_max_hours: String,
    lockout_threshold: String,
    lockout_minutes: String,
}

/// `POST …/policy`: saves the policies, against the version the form showed.
pub async fn save_policy(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    form: web::Form<PolicyForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let path = format!("/console/t/{target}/policy");
        let form = form.into_inner();
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &path, action: Action::TenantPolicyUpdate, tab: "policy" },
            Some(&form.csrf),
        )
        .await?;
        // The cached tenant may be seconds old: the version is checked against the store.
        let (store, slug) = (state.store.clone(), o.target.tenant.slug.clone());
        let current = run_as(move || admin::require_tenant(&store, &slug)).await;
        let saved = match current {
            Ok(tenant) if etag_of(&serde_json::to_value(&tenant.policy).unwrap_or_default()) != form.etag => {
                Err(Problem::PRECONDITION_FAILED)
            }
            Ok(tenant) => match change_of(&form, tenant.policy) {
                Ok(change) => {
                    let (store, actor, slug) = (state.store.clone(), o.admin.actor(), tenant.slug.clone());
                    run_as(move || admin::update_tenant_policy(&store, &actor, &slug, &change)).await
                }
                Err(p) => Err(p),
            },
            Err(p) => Err(p),
        };
        if saved.is_ok() {
            state.caches.forget_tenant(&o.target.tenant.slug);
        }
        let location = format!("{}/policy?done=policy", o.frame.base);
        Ok(outcome(&req, o.frame, saved, &location))
    })
    .await
}

/// The form as a change made against `expected`; numbers that are not numbers are refused.
fn change_of(form: &PolicyForm, expected: gatehouse_core::model::TenantPolicy) -> Result<PolicyChange, Problem> {
    fn number<T: std::str::FromStr>(v: &str, what: &str) -> Result<T, Problem> {
        v.trim().parse().map_err(|_| Problem::invalid(format!("{what} must be a whole number in its range")))
    }
    Ok(PolicyChange {
        password_history: Some(number(&form.password_history, "passwords remembered")?),
        password_max_age_days: Some(number(&form.password_max_age_days, "password expiry")?),
        password_reset: Some(form.password_reset.is_some()),
        self_registration: Some(form.self_registration.is_some()),
        mail_from: None,
        mfa: Some(
            MfaPolicy::parse(&form.mfa)
                .ok_or_else(|| Problem::invalid("second factors: off, optional or required".into()))?,
        ),
        passwordless: Some(form.passwordless.is_some()),
        recent_auth_minutes: Some(number(&form.recent_auth_minutes, "recent sign-in minutes")?),
        session_idle_minutes: Some(number(&form.session_idle_minutes, "session idle timeout")?),
        session_max_hours: Some(number(&form.session_max_hours, "session lifetime")?),
        lockout_threshold: Some(number(&form.lockout_threshold, "lockout threshold")?),
        lockout_minutes: Some(number(&form.lockout_minutes, "lockout duration")?),
        expected: Some(expected),
    })
}
