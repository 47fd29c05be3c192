//! A5: second factors in the store. A TOTP step, a recovery code and a WebAuthn ceremony are
//! each used once, also by concurrent callers; the last factor stays when asked to; factors
//! and codes leave with their user; an unconfirmed factor is purged.

use std::sync::{Arc, Barrier};

use gatehouse_core::audit::AuditEvent;
use gatehouse_core::mfa::{Factor, FactorKind};
use gatehouse_core::store::{Ceremony, MfaStore, UserStore};
use gatehouse_core::{StoreError, admin};

use super::{NOW, fast_hasher, new_user, open, tenant};

fn totp_factor(tenant_id: &str, user_id: &str, id: &str) -> Factor {
    Factor {
        id: id.into(),
        tenant_id: tenant_id.into(),
        user_id: user_id.into(),
        kind: FactorKind::Totp,
        name: "Phone".into(),
        confirmed: false,
        secret: Some(vec![1, 2, 3]),
        last_step: None,
        credential_id: None,
        credential: None,
        transports: None,
        created_at: NOW.0,
        last_used_at: None,
    }
}

fn event() -> AuditEvent {
    AuditEvent::new("test", "mfa.test").details(serde_json::json!({}))
}

/// A tenant `acme` with a user `ada`; returns (tenant id, user id).
fn setup(store: &gatehouse_store::Store) -> (String, String) {
    let t = tenant(store, "acme");
    let u = admin::create_user(
        store,
        &fast_hasher(),
        &Default::default(),
        "test",
        &new_user("acme", "ada", "ada@example.com", &[]),
        NOW,
    )
    .unwrap();
    (t.id, u.id)
}

#[test]
fn a_totp_step_is_accepted_once_even_concurrently() {
    for db in gatehouse_testkit::databases() {
        let store = Arc::new(open(&db));
        let (t, u) = setup(&store);
        store.add_pending_totp(&totp_factor(&t, &u, "f1")).unwrap();
        assert!(!store.use_totp_step(&t, "f1", 100, NOW.0).unwrap(), "{db:?}: unconfirmed factors accept nothing");
        assert!(store.confirm_totp(&t, "f1", "My phone", 100, &event()).unwrap());
        assert!(!store.confirm_totp(&t, "f1", "My phone", 101, &event()).unwrap(), "confirmed once");
        assert_eq!(store.factors(&t, &u).unwrap()[0].name, "My phone");
        assert!(!store.use_totp_step(&t, "f1", 100, NOW.0).unwrap(), "{db:?}: the confirming step");
        assert!(!store.use_totp_step(&t, "f1", 99, NOW.0).unwrap(), "an earlier step");
        assert!(!store.use_totp_step("other-tenant", "f1", 101, NOW.0).unwrap(), "AC1: another tenant");
        let barrier = Arc::new(Barrier::new(4));
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let (store, barrier, t) = (store.clone(), barrier.clone(), t.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    usize::from(store.use_totp_step(&t, "f1", 101, NOW.0).unwrap())
                })
            })
            .collect();
        let accepted: usize = racers.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(accepted, 1, "{db:?}: one of four concurrent uses of a step");
    }
}

#[test]
fn recovery_codes_are_single_use_and_replaced_as_a_set() {
    for db in gatehouse_testkit::databases() {
        let store = open(&db);
        let (t, u) = setup(&store);
        let hashes: Vec<Vec<u8>> = (0u8..10).map(|i| vec![i; 32]).collect();
        store.replace_recovery_codes(&t, &u, &hashes, NOW.0, &event()).unwrap();
        assert_eq!(store.recovery_codes_left(&t, &u).unwrap(), 10);
        assert_eq!(store.use_recovery_code(&t, &u, &hashes[2], NOW.0, &event()).unwrap(), Some(9), "{db:?}");
        assert_eq!(store.use_recovery_code(&t, &u, &hashes[2], NOW.0, &event()).unwrap(), None, "used");
        assert_eq!(store.use_recovery_code(&t, "someone-else", &hashes[3], NOW.0, &event()).unwrap(), None);
        let fresh: Vec<Vec<u8>> = (10u8..20).map(|i| vec![i; 32]).collect();
        store.replace_recovery_codes(&t, &u, &fresh, NOW.0, &event()).unwrap();
        assert_eq!(store.use_recovery_code(&t, &u, &hashes[3], NOW.0, &event()).unwrap(), None, "{db:?}: old set");
        assert_eq!(store.recovery_codes_left(&t, &u).unwrap(), 10);
    }
}

#[test]
fn a_ceremony_is_taken_once_and_not_after_it_expires() {
    for db in gatehouse_testkit::databases() {
        let store = open(&db);
        let (t, _) = setup(&store);
        let c = Ceremony {
            id: "c1".into(),
            tenant_id: t.clone(),
            user_id: None,
            purpose: "discover".into(),
            state: "{}".into(),
            expires_at: NOW.0 + 300,
        };
        store.save_ceremony(&c).unwrap();
        assert_eq!(store.take_ceremony("other-tenant", "c1", NOW.0).unwrap(), None, "{db:?}: AC1");
        assert_eq!(store.take_ceremony(&t, "c1", NOW.0).unwrap(), Some(c.clone()), "{db:?}");
        assert_eq!(store.take_ceremony(&t, "c1", NOW.0).unwrap(), None, "{db:?}: taken once");
        store.save_ceremony(&Ceremony { id: "c2".into(), ..c }).unwrap();
        assert_eq!(store.take_ceremony(&t, "c2", NOW.0 + 300).unwrap(), None, "{db:?}: expired");
    }
}

#[test]
fn the_last_factor_stays_when_required_and_factors_leave_with_their_user() {
    for db in gatehouse_testkit::databases() {
        let store = open(&db);
        let (t, u) = setup(&store);
        store.add_pending_totp(&totp_factor(&t, &u, "f1")).unwrap();
        store.confirm_totp(&t, "f1", "Phone", 1, &event()).unwrap();
        store.replace_recovery_codes(&t, &u, &[vec![7; 32]], NOW.0, &event()).unwrap();
        let refused = store.remove_factor(&t, &u, "f1", true, &event());
        assert!(matches!(refused, Err(StoreError::Refused(_))), "{db:?}: {refused:?}");
        let missing = store.remove_factor(&t, &u, "nope", false, &event());
        assert!(matches!(missing, Err(StoreError::NotFound(_))), "{db:?}");
        // A pending factor replaces the earlier pending one, never a confirmed one.
        store.add_pending_totp(&totp_factor(&t, &u, "f2")).unwrap();
        store.add_pending_totp(&totp_factor(&t, &u, "f3")).unwrap();
        let ids: Vec<String> = store.factors(&t, &u).unwrap().into_iter().map(|f| f.id).collect();
        assert_eq!(ids, ["f1", "f3"], "{db:?}");
        store.remove_factor(&t, &u, "f1", false, &event()).unwrap();
        assert_eq!(store.recovery_codes_left(&t, &u).unwrap(), 0, "{db:?}: the last factor takes the codes");
        // D3: deleting the user deletes the rest.
        store.add_pending_totp(&totp_factor(&t, &u, "f4")).unwrap();
        store.confirm_totp(&t, "f4", "Phone", 1, &event()).unwrap();
        store.replace_recovery_codes(&t, &u, &[vec![8; 32]], NOW.0, &event()).unwrap();
        store.delete_user(&t, &u, NOW.0, &event()).unwrap();
        assert!(store.factors(&t, &u).unwrap().is_empty(), "{db:?}");
        assert_eq!(store.recovery_codes_left(&t, &u).unwrap(), 0, "{db:?}");
    }
}

#[test]
fn a_passkey_credential_is_registered_once_per_tenant() {
    for db in gatehouse_testkit::databases() {
        let store = open(&db);
        let (t, u) = setup(&store);
        let key = Factor {
            kind: FactorKind::Passkey,
            confirmed: true,
            secret: None,
            credential_id: Some("cred-1".into()),
            credential: Some("{}".into()),
            ..totp_factor(&t, &u, "p1")
        };
        store.add_passkey(&key, &event()).unwrap();
        let again = store.add_passkey(&Factor { id: "p2".into(), ..key.clone() }, &event());
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{db:?}: {again:?}");
        assert_eq!(store.passkey_by_credential(&t, "cred-1").unwrap().map(|f| f.id), Some("p1".into()));
        assert_eq!(store.passkey_by_credential("other-tenant", "cred-1").unwrap(), None, "{db:?}: AC1");
        store.use_passkey(&t, "p1", "{\"counter\":2}", NOW.0 + 5).unwrap();
        let used = store.passkey_by_credential(&t, "cred-1").unwrap().unwrap();
        assert_eq!((used.credential.as_deref(), used.last_used_at), (Some("{\"counter\":2}"), Some(NOW.0 + 5)));
    }
}
