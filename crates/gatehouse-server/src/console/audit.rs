//! The audit log in the console (L3, AC6): filtered by actor, action, target and time, paged,
//! exported as CSV or JSON, and for platform administrators the chain's verification.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_console::{AuditFilterForm, AuditPage, datetime_local};
use gatehouse_core::admin::authz::{Action, permitted};
use gatehouse_core::audit::{VerifyError, verify_chain};
use gatehouse_core::store::{AdminStore, AuditFilter};
use serde::Deserialize;

use super::settings::event_row;
use super::{At, Opened, open, page, problem_page, show};
use crate::api::audit::{csv, record_json};
use crate::api::problem::Problem;
use crate::http::oauth::context::{TenantScope, blocking};
use crate::state::AppState;

/// Records on one page.
const PAGE: i64 = 100;
/// Records in one export.
const EXPORT: i64 = 1000;

#[derive(Deserialize, Default)]
pub struct Query {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    before: Option<i64>,
    format: Option<String>,
}

impl Query {
    /// The store's filter for the administered tenant (AC1), or the rule the input broke.
    fn filter(&self, tenant_id: &str, limit: i64) -> Result<AuditFilter, Problem> {
        let text = |v: &str| -> Result<Option<String>, Problem> {
            let v = v.trim();
            if v.len() > 200 || v.chars().any(char::is_control) {
                return Err(Problem::invalid("filters are at most 200 printable characters".into()));
            }
            Ok(Some(v.to_owned()).filter(|v| !v.is_empty()))
        };
        let time = |v: &str| datetime_local(v).map_err(|rule| Problem::invalid(rule.into()));
        Ok(AuditFilter {
            tenant_id: Some(tenant_id.to_owned()),
            actor: text(&self.actor)?,
            action: text(&self.action)?,
            target: text(&self.target)?,
            since: time(&self.since)?,
            until: time(&self.until)?,
            before_seq: self.before,
            limit,
        })
    }

    /// This view's query string (without cursor and format), URL-encoded.
    fn query_string(&self) -> String {
        let pairs = [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("since", &self.since),
            ("until", &self.until),
        ];
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
            .finish()
    }
}

async fn opened(req: &HttpRequest, state: &AppState, t: &TenantScope, target: &str) -> Result<Opened, super::Halt> {
    let path = format!("/console/t/{target}/audit");
    open(req, state, t, At { target, path: &path, action: Action::AuditRead, tab: "audit" }, None).await
}

/// `GET …/audit`.
pub async fn page_view(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let o = opened(&req, &state, &t, &target).await?;
        let filter = match q.filter(&o.target.tenant.id, PAGE + 1) {
            Ok(f) => f,
            Err(p) => return Ok(problem_page(&req, o.frame, &p)),
        };
        let store = state.store.clone();
        let mut records = blocking(move || store.search_audit(&filter)).await?;
        let query = q.query_string();
        let next = (records.len() as i64 > PAGE).then(|| {
            records.truncate(PAGE as usize);
            records.last().map(|r| format!("{}/audit?{query}&before={}", o.frame.base, r.seq))
        });
        // L3: platform administrators see whether the whole chain verifies.
        let chain = if permitted(&o.admin.caller.operator, Action::AuditVerify, &o.admin.tenant.tenant.id).is_ok() {
            let store = state.store.clone();
            let verified = actix_web::web::block(move || verify_chain(&store, store.vault())).await;
            Some(match verified {
                Ok(Ok(r)) => (true, format!("intact: {} records, head {}", r.records, r.head_seq)),
                Ok(Err(VerifyError::Broken(b))) => (false, format!("BROKEN: {b}")),
                _ => (false, "could not be verified".to_owned()),
            })
        } else {
            None
        };
        let q = q.into_inner();
        Ok(show(&AuditPage {
            title: "Audit log",
            export: format!("{}/audit/export?{}", o.frame.base, q.query_string()),
            frame: o.frame,
            chain,
            filter: AuditFilterForm {
                actor: q.actor,
                action: q.action,
                target: q.target,
                since: q.since,
                until: q.until,
            },
            events: records.iter().map(event_row).collect(),
            next: next.flatten(),
        }))
    })
    .await
}

/// `GET …/audit/export?format=csv|json`: this view's newest records as a download.
pub async fn export(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    super::page(&req, async {
        let o = opened(&req, &state, &t, &target).await?;
        let filter = match q.filter(&o.target.tenant.id, EXPORT) {
            Ok(f) => f,
            Err(p) => return Ok(problem_page(&req, o.frame, &p)),
        };
        let store = state.store.clone();
        let records = blocking(move || store.search_audit(&filter)).await?;
        let (body, content_type, name) = match q.format.as_deref() {
            Some("csv") => (csv(&records), "text/csv; charset=utf-8", "attachment; filename=\"audit.csv\""),
            Some("json") => {
                let items: Vec<_> = records.iter().map(record_json).collect();
                (serde_json::Value::from(items).to_string(), "application/json", "attachment; filename=\"audit.json\"")
            }
            _ => return Ok(problem_page(&req, o.frame, &Problem::invalid("format is csv or json".into()))),
        };
        let mut res = HttpResponse::Ok().content_type(content_type).body(body);
        res.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(name));
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(res)
    })
    .await
}
