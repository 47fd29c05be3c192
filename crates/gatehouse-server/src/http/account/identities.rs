//! The account's linked upstream identities (O8): listed on the security page, and removable
//! there (step-up) unless the identity is the account's only way to sign in.

use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::admin::{self, IdentityView};
use gatehouse_core::mfa::FactorKind;
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::store::{MfaStore, UpstreamStore};
use gatehouse_types::ProtocolError;
use serde::Deserialize;
use serde_json::json;

use super::pages::{event, page};
use super::{Visitor, form_ok, refused, see_other, utc, visitor};
use crate::http::oauth::context::{TenantScope, blocking};
use crate::state::AppState;

/// A linked identity as the security page lists it.
pub struct IdentityRow {
    /// The upstream's name (the form's value).
    pub upstream: String,
    pub display_name: String,
    pub added: String,
    pub last_used: String,
}

/// The upstream identities linked to the visitor's account, oldest first.
pub async fn linked(state: &AppState, v: &Visitor) -> Result<Vec<IdentityRow>, ProtocolError> {
    Ok(identities_of(state, v)
        .await?
        .into_iter()
        .map(|i| IdentityRow {
            added: utc(i.identity.created_at),
            last_used: i.identity.last_used_at.map_or_else(|| "never".to_owned(), utc),
            upstream: i.upstream,
            display_name: i.display_name,
        })
        .collect())
}

/// The visitor's linked identities with their upstreams (`admin::user_identities`).
async fn identities_of(state: &AppState, v: &Visitor) -> Result<Vec<IdentityView>, ProtocolError> {
    let (store, user) = (state.store.clone(), v.user.clone());
    blocking(move || admin::user_identities(&store, &user)).await
}

#[derive(Deserialize)]
pub struct UnlinkForm {
    csrf: String,
    upstream: String,
}

/// `POST /account/security/unlink`: removes the link to one upstream (step-up).
pub async fn unlink(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<UnlinkForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/security", true).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        if !form_ok(&req, &state, &v, &form.csrf) || has_control(&form.upstream) {
            return Ok(refused(&req));
        }
        let identities = identities_of(&state, &v).await?;
        let Some(linked) = identities.iter().find(|i| i.upstream == form.upstream) else { return Ok(refused(&req)) };
        let (store, tid, uid) = (state.store.clone(), t.tenant.id.clone(), v.user.id.clone());
        let factors = blocking(move || store.factors(&tid, &uid)).await?;
        let passkey = factors.iter().any(|f| f.confirmed && f.kind == FactorKind::Passkey);
        if !keeps_a_way_in(v.user.password_hash.is_some(), passkey, identities.len()) {
            let text = "This is your only way to sign in: set a password or add a passkey first.".to_owned();
            return super::security::render_with_error(&state, &t, &v, text).await;
        }
        let audit = event(&req, &t, &v, "user.upstream_unlink").details(json!({ "upstream": linked.upstream }));
        let (store, tid, uid, up, sub) = (
            state.store.clone(),
            t.tenant.id.clone(),
            v.user.id.clone(),
            linked.identity.upstream_id.clone(),
            linked.identity.subject.clone(),
        );
        blocking(move || store.unlink_identity(&tid, &uid, &up, &sub, &audit)).await?;
        Ok(see_other(&t, "/account/security?done=unlinked"))
    })
    .await
}

/// O8: an account keeps a way to sign in after losing one linked identity: a password, a
/// passkey, or another linked identity.
fn keeps_a_way_in(password: bool, passkey: bool, identities: usize) -> bool {
    password || passkey || identities > 1
}

#[cfg(test)]
mod tests {
    use super::keeps_a_way_in;

    #[test]
    fn the_only_way_in_stays() {
        assert!(!keeps_a_way_in(false, false, 1));
        assert!(keeps_a_way_in(true, false, 1));
        assert!(keeps_a_way_in(false, true, 1));
        assert!(keeps_a_way_in(false, false, 2));
    }
}
