//! The audit log (L3, AC6): searched by actor, action, target and time, newest first, as JSON
//! or CSV; a tenant's administrators see their tenant's records, platform administrators
//! every record and the verification of the whole chain.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::admin::authz::{Action, reaches_other_tenants};
use gatehouse_core::audit::{AuditRecord, verify_chain};
use gatehouse_core::store::{AdminStore, AuditFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::auth::{authenticate, refuse};
use super::problem::{Problem, ProblemBody, internal};
use super::{action_name, admit};
use crate::http::oauth::context::blocking;
use crate::state::AppState;

/// The most records one page holds.
const MAX_PAGE: i64 = 500;

/// Which records.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Exactly this actor (`user:{id}`, `client:{id}`, `system`, ...).
    actor: Option<String>,
    /// Exactly this action (`user.create`, `access.denied`, ...).
    action: Option<String>,
    /// Exactly this target (`user:{id}`, `client:{id}`, `tenant:{id}`).
    target: Option<String>,
    /// At or after this Unix time.
    since: Option<i64>,
    /// Before this Unix time.
    until: Option<i64>,
    /// The `next` cursor of the previous page (records older than it).
    before: Option<i64>,
    /// At most this many (1–500, default 100).
    limit: Option<i64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

impl AuditQuery {
    /// IO1: filters are short printable text.
    fn check(&self) -> Result<(), Problem> {
        let ok = |v: &Option<String>| v.as_deref().is_none_or(|s| s.len() <= 200 && !s.chars().any(char::is_control));
        if !(ok(&self.actor) && ok(&self.action) && ok(&self.target)) {
            return Err(Problem::invalid("actor, action and target are at most 200 printable characters".into()));
        }
        if !matches!(self.format.as_deref(), None | Some("json" | "csv")) {
            return Err(Problem::invalid("format is json or csv".into()));
        }
        Ok(())
    }

    fn filter(&self, tenant_id: Option<String>) -> AuditFilter {
        AuditFilter {
            tenant_id,
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            since: self.since,
            until: self.until,
            before_seq: self.before,
            limit: self.limit.unwrap_or(100).clamp(1, MAX_PAGE) + 1,
        }
    }
}

pub fn record_json(r: &AuditRecord) -> Value {
    json!({
        "seq": r.seq,
        "at": r.at,
        "tenant_id": r.tenant_id,
        "actor": r.actor,
        "action": r.action,
        "target": r.target,
        "source_ip": r.source_ip,
        "outcome": r.outcome,
        "details": serde_json::from_str::<Value>(&r.details).unwrap_or(Value::Null),
    })
}

/// RFC 4180 field, with OWASP's guard against formula injection: a field a spreadsheet would
/// run as a formula gets a leading `'`.
fn csv_field(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.into() };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

pub fn csv(records: &[AuditRecord]) -> String {
    let mut out = String::from("seq,at,tenant_id,actor,action,target,source_ip,outcome,details\r\n");
    for r in records {
        let fields = [
            r.seq.to_string(),
            r.at.to_string(),
            r.tenant_id.clone().unwrap_or_default(),
            r.actor.clone(),
            r.action.clone(),
            r.target.clone().unwrap_or_default(),
            r.source_ip.clone().unwrap_or_default(),
            r.outcome.clone(),
            r.details.clone(),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// A page of records as JSON (`{"items", "next"}`) or CSV (the `Link`-free page; the next
/// cursor in `Gatehouse-Next-Before`).
async fn page(req: &HttpRequest, state: &AppState, q: &AuditQuery, tenant_id: Option<String>) -> HttpResponse {
    if let Err(p) = q.check() {
        return p.respond(req);
    }
    let filter = q.filter(tenant_id);
    let limit = (filter.limit - 1) as usize;
    let store = state.store.clone();
    let mut records = match blocking(move || store.search_audit(&filter)).await {
        Ok(r) => r,
        Err(e) => return internal(req, &e),
    };
    let next = if records.len() > limit {
        records.truncate(limit);
        records.last().map(|r| r.seq)
    } else {
        None
    };
    let mut res = if q.format.as_deref() == Some("csv") {
        let mut res = HttpResponse::Ok().content_type("text/csv; charset=utf-8").body(csv(&records));
        res.headers_mut()
            .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"audit.csv\""));
        if let Some(n) = next.and_then(|n| HeaderValue::from_str(&n.to_string()).ok()) {
            res.headers_mut().insert(header::HeaderName::from_static("gatehouse-next-before"), n);
        }
        res
    } else {
        HttpResponse::Ok().json(json!({ "items": records.iter().map(record_json).collect::<Vec<_>>(), "next": next }))
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The tenant's audit records, newest first.
#[utoipa::path(get, path = "/tenants/{slug}/audit", tag = "audit",
    params(("slug" = String, Path, description = "The tenant's slug"), AuditQuery),
    responses(
        (status = 200, description = "`{\"items\": [record], \"next\": cursor or null}`, or CSV", body = Object),
        (status = 400, description = "Invalid filter", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn tenant(
    req: HttpRequest,
    slug: web::Path<String>,
    q: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, t) = match admit(&req, &state, &slug, Action::AuditRead).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    page(&req, &state, &q, Some(t.tenant.id.clone())).await
}

/// Every audit record, newest first (platform administrators).
#[utoipa::path(get, path = "/audit", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "`{\"items\": [record], \"next\": cursor or null}`, or CSV", body = Object),
        (status = 400, description = "Invalid filter", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn all(req: HttpRequest, q: web::Query<AuditQuery>, state: web::Data<AppState>) -> HttpResponse {
    let caller = match authenticate(&req, &state).await {
        Ok(c) => c,
        Err(p) => return p.respond(&req),
    };
    if !reaches_other_tenants(&caller.operator, Action::AuditRead) {
        return refuse(&req, &state, &caller, action_name(Action::AuditRead), "audit:all", "other tenants")
            .await
            .respond(&req);
    }
    page(&req, &state, &q, None).await
}

/// L3: verifies every link of the chain (platform administrators).
#[utoipa::path(get, path = "/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "`{\"ok\": true, \"records\", \"head_seq\", \"head_hash\"}` or `{\"ok\": false, \"error\"}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn verify(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let caller = match authenticate(&req, &state).await {
        Ok(c) => c,
        Err(p) => return p.respond(&req),
    };
    let own = caller.tenant.tenant.slug.clone();
    if let Err(res) = admit(&req, &state, &own, Action::AuditVerify).await {
        return res;
    }
    let store = state.store.clone();
    match web::block(move || verify_chain(&store, store.vault())).await {
        Ok(Ok(r)) => HttpResponse::Ok()
            .json(json!({ "ok": true, "records": r.records, "head_seq": r.head_seq, "head_hash": r.head_hash })),
        // The break is what the administrator needs to see; it names sequence numbers only.
        Ok(Err(gatehouse_core::audit::VerifyError::Broken(b))) => {
            HttpResponse::Ok().json(json!({ "ok": false, "error": b.to_string() }))
        }
        Ok(Err(e)) => internal(&req, &gatehouse_types::ProtocolError::server(e)),
        Err(e) => internal(&req, &gatehouse_types::ProtocolError::server(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("user.create"), "\"user.create\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1+1"), "\"'-1+1\"");
        assert_eq!(csv_field("a,b\r\nc"), "\"a,b\r\nc\"");
    }
}
