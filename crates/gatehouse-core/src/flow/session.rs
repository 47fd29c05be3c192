//! Server-side sessions (S1–S4): a random 256-bit id in the cookie, its hash in the database,
//! an idle timeout and an absolute lifetime.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use crate::UnixTime;
use crate::crypto::{CryptoError, KeyKind, Vault, random_token};
use crate::store::SessionRecord;

/// Domain separation for [`logout_confirmation`] under the shared HMAC key.
const LOGOUT_LABEL: &[u8] = b"gatehouse-logout-confirmation-v1\0";

/// Session timeouts (S4). Defaults: 30 minutes idle, 12 hours absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

impl SessionPolicy {
    /// The longest idle timeout a tenant may set (a day): what the purge waits for.
    pub const MAX_IDLE_SECS: i64 = 24 * 3600;
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle_secs: 30 * 60, absolute_secs: 12 * 3600 }
    }
}

/// A new session for a user who just presented every required factor (A7).
pub fn new_session(
    tenant_id: &str,
    user_id: &str,
    amr: &[&str],
    acr: &str,
    policy: SessionPolicy,
    now: UnixTime,
) -> (String, SessionRecord) {
    let cookie = random_token();
    let record = SessionRecord {
        sid: random_token(),
        tenant_id: tenant_id.to_owned(),
        user_id: user_id.to_owned(),
        auth_time: now.0,
        amr: amr.join(" "),
        acr: acr.to_owned(),
        created_at: now.0,
        last_seen_at: now.0,
        expires_at: now.0 + policy.absolute_secs,
        user_agent_hash: None,
        client_ip: None,
        user_agent: None,
    };
    (cookie, record)
}

/// S3: the same user authenticated again in a live session (`prompt=login`, `max_age`, a
/// further factor): the session keeps its `sid`, its clients and its absolute expiry, and
/// gets a new identifier (the returned cookie value) and the new authentication.
pub fn renewed_session(old: &SessionRecord, amr: &[&str], acr: &str, now: UnixTime) -> (String, SessionRecord) {
    let record =
        SessionRecord { auth_time: now.0, amr: amr.join(" "), acr: acr.to_owned(), last_seen_at: now.0, ..old.clone() };
    (random_token(), record)
}

/// S4: a session idle longer than the policy allows is over, whatever its absolute expiry.
pub fn is_live(s: &SessionRecord, policy: SessionPolicy, now: UnixTime) -> bool {
    now.0 < s.expires_at && now.0 - s.last_seen_at < policy.idle_secs
}

/// S5: whether a request from this user agent (its hash) and address may go on using `s` in
/// a tenant that binds sessions. A session without recorded values fails (closed).
pub fn binding_holds(s: &SessionRecord, user_agent_hash: &[u8], client_ip: Option<&str>) -> bool {
    s.user_agent_hash.as_deref() == Some(user_agent_hash)
        && s.client_ip.is_some()
        && s.client_ip.as_deref() == client_ip
}

/// RP-Initiated Logout 1.0 §6: a logout request without a valid `id_token_hint` may be forged
/// by any site, so the user confirms it with a form that carries this value. It is bound to
/// the session (tenant and `sid`) by a keyed hash, so no other site can produce it.
pub fn logout_confirmation(vault: &Vault, session: &SessionRecord) -> Result<String, CryptoError> {
    session_mac(vault, LOGOUT_LABEL, session)
}

/// Whether `presented` confirms the logout of `session` (compared in constant time).
pub fn logout_confirmed(vault: &Vault, session: &SessionRecord, presented: &str) -> bool {
    session_mac_matches(vault, LOGOUT_LABEL, session, presented)
}

/// Domain separation for [`account_form_token`].
const ACCOUNT_FORM_LABEL: &[u8] = b"gatehouse-account-form-v1\0";

/// IO3: the synchronizer token of the account pages' forms, bound to the session by a keyed
/// hash (a new session id or sign-out makes old pages' forms fail only when the `sid` changes;
/// no other site can produce it).
pub fn account_form_token(vault: &Vault, session: &SessionRecord) -> Result<String, CryptoError> {
    session_mac(vault, ACCOUNT_FORM_LABEL, session)
}

/// Whether `presented` is the account forms' token of `session` (constant time).
pub fn account_form_ok(vault: &Vault, session: &SessionRecord, presented: &str) -> bool {
    session_mac_matches(vault, ACCOUNT_FORM_LABEL, session, presented)
}

/// Domain separation for [`browser_form_token`].
const BROWSER_FORM_LABEL: &[u8] = b"gatehouse-public-form-v1\0";

/// IO3: the token of a form given to a browser without a session (sign-up, forgotten
/// password), bound to a random cookie value of that browser by a keyed hash.
pub fn browser_form_token(vault: &Vault, tenant_id: &str, cookie_value: &str) -> Result<String, CryptoError> {
    let mac = vault.keyed_hash(
        KeyKind::ClientSecrets,
        &[BROWSER_FORM_LABEL, tenant_id.as_bytes(), b"\0", cookie_value.as_bytes()],
    )?;
    Ok(URL_SAFE_NO_PAD.encode(mac))
}

/// A keyed hash of `label`, the tenant and the `sid` (under the shared HMAC key).
fn session_mac(vault: &Vault, label: &[u8], session: &SessionRecord) -> Result<String, CryptoError> {
    let mac = vault
        .keyed_hash(KeyKind::ClientSecrets, &[label, session.tenant_id.as_bytes(), b"\0", session.sid.as_bytes()])?;
    Ok(URL_SAFE_NO_PAD.encode(mac))
}

fn session_mac_matches(vault: &Vault, label: &[u8], session: &SessionRecord, presented: &str) -> bool {
    session_mac(vault, label, session).is_ok_and(|expected| bool::from(expected.as_bytes().ct_eq(presented.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_absolute_timeouts() {
        let p = SessionPolicy::default();
        let (_, s) = new_session("t", "u", &["pwd"], "acr", p, UnixTime(1000));
        assert!(is_live(&s, p, UnixTime(1000 + 29 * 60)));
        assert!(!is_live(&s, p, UnixTime(1000 + 30 * 60)), "idle");
        let mut busy = s.clone();
        busy.last_seen_at = 1000 + 12 * 3600 - 1;
        assert!(!is_live(&busy, p, UnixTime(1000 + 12 * 3600)), "absolute");
    }

    #[test]
    fn a_bound_session_holds_only_for_its_user_agent_and_address() {
        let (_, mut s) = new_session("t", "u", &["pwd"], "acr", SessionPolicy::default(), UnixTime(1000));
        assert!(!binding_holds(&s, b"ua", Some("192.0.2.1")), "nothing recorded: fails closed");
        s.user_agent_hash = Some(b"ua".to_vec());
        s.client_ip = Some("192.0.2.1".into());
        assert!(binding_holds(&s, b"ua", Some("192.0.2.1")));
        assert!(!binding_holds(&s, b"other", Some("192.0.2.1")), "another user agent");
        assert!(!binding_holds(&s, b"ua", Some("192.0.2.2")), "another address");
        assert!(!binding_holds(&s, b"ua", None));
    }

    #[test]
    fn logout_confirmation_is_bound_to_the_session() {
        let (master, _) = crate::crypto::MasterKey::generate();
        let keys: Vec<_> = KeyKind::ALL.into_iter().map(|k| master.new_data_key(k, 1).unwrap()).collect();
        let vault = Vault::unlock(&master, &keys).unwrap();
        let (_, s) = new_session("t", "u", &["pwd"], "acr", SessionPolicy::default(), UnixTime(1000));
        let token = logout_confirmation(&vault, &s).unwrap();
        assert!(logout_confirmed(&vault, &s, &token));
        let (_, other) = new_session("t", "u", &["pwd"], "acr", SessionPolicy::default(), UnixTime(1000));
        assert!(!logout_confirmed(&vault, &other, &token), "another session's confirmation");
        let mut moved = s.clone();
        moved.tenant_id = "t2".into();
        assert!(!logout_confirmed(&vault, &moved, &token), "another tenant");
        assert!(!logout_confirmed(&vault, &s, ""));
        assert!(!logout_confirmed(&vault, &s, &token[1..]));
    }
}
