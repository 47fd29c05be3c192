//! The tenant's live sessions in the console (S8): who is signed in now.

use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_console::{SessionRow, SessionsPage};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::Action;
use gatehouse_core::store::AdminStore;

use super::{At, open, page, show};
use crate::http::account::{device, utc};
use crate::http::oauth::context::{TenantScope, blocking};
use crate::state::AppState;

/// The most sessions the page lists.
const LIMIT: i64 = 500;

/// `GET …/console/t/{target}/sessions`.
pub async fn list(
    req: HttpRequest,
    t: TenantScope,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, target) = path.into_inner();
    page(&req, async {
        let here = format!("/console/t/{target}/sessions");
        let o = open(
            &req,
            &state,
            &t,
            At { target: &target, path: &here, action: Action::SessionList, tab: "sessions" },
            None,
        )
        .await?;
        let (store, tid) = (state.store.clone(), o.target.tenant.id.clone());
        let live = blocking(move || store.tenant_sessions(&tid, UnixTime::now().0, LIMIT)).await?;
        let sessions = live
            .into_iter()
            .map(|(s, username)| {
                let row = SessionRow {
                    sid: s.sid.clone(),
                    device: device(s.user_agent.as_deref()),
                    signed_in: utc(s.auth_time),
                    methods: s.amr.clone(),
                    last_seen: utc(s.last_seen_at),
                };
                (username, row)
            })
            .collect();
        Ok(show(&SessionsPage { title: "Sessions", frame: o.frame, sessions }))
    })
    .await
}
