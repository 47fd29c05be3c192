//! O8: an upstream identity (upstream, `sub`) signs in as one account; an account has at most
//! one identity per upstream; identities go with their user and their upstream; AC1.

use gatehouse_core::admin::{self, UpstreamInput};
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::federation::LinkedIdentity;
use gatehouse_core::store::{UpstreamStore, UserStore};
use gatehouse_core::{StoreError, UnixTime};
use gatehouse_types::Secret;

use super::{NOW, fast_hasher, new_user, open, tenant};

fn event() -> AuditEvent {
    AuditEvent::new("test", "identity.link")
}

#[test]
fn an_upstream_identity_signs_in_as_one_account_and_goes_with_it() {
    for db in gatehouse_testkit::databases() {
        let store = open(&db);
        let t = tenant(&store, "acme");
        let other = tenant(&store, "globex");
        let user = |name: &str| {
            let input = new_user("acme", name, &format!("{name}@example.com"), &[]);
            admin::create_user(&store, &fast_hasher(), &Default::default(), "test", &input, NOW).unwrap()
        };
        let (ada, bob) = (user("ada"), user("bob"));
        let input = UpstreamInput {
            issuer: Some("https://idp.example.com".into()),
            client_id: Some("gatehouse".into()),
            client_secret: Some(Secret::new("s".into())),
            ..Default::default()
        };
        let idp = admin::add_upstream(&store, store.vault(), "test", "acme", "idp", &input, NOW).unwrap();
        let link = |user_id: &str, subject: &str| LinkedIdentity {
            tenant_id: t.id.clone(),
            upstream_id: idp.id.clone(),
            subject: subject.into(),
            user_id: user_id.into(),
            created_at: NOW.0,
            last_used_at: None,
        };
        store.link_identity(&link(&ada.id, "sub-1"), &event()).unwrap();
        assert_eq!(store.identity_user(&t.id, &idp.id, "sub-1").unwrap().as_deref(), Some(ada.id.as_str()));
        assert_eq!(store.identity_user(&t.id, &idp.id, "SUB-1").unwrap(), None, "{db:?}: sub is case-sensitive");
        assert_eq!(store.identity_user(&other.id, &idp.id, "sub-1").unwrap(), None, "{db:?}: AC1");
        assert!(
            matches!(store.link_identity(&link(&bob.id, "sub-1"), &event()), Err(StoreError::Conflict(_))),
            "{db:?}: one identity, one account"
        );
        assert!(
            matches!(store.link_identity(&link(&ada.id, "sub-2"), &event()), Err(StoreError::Conflict(_))),
            "{db:?}: one identity per upstream for an account"
        );
        store.link_identity(&link(&bob.id, "sub-2"), &event()).unwrap();
        assert_eq!(store.identities_of(&t.id, &ada.id).unwrap(), [link(&ada.id, "sub-1")]);
        assert!(store.unlink_identity(&t.id, &ada.id, &idp.id, "sub-1", &event()).unwrap());
        assert!(!store.unlink_identity(&t.id, &ada.id, &idp.id, "sub-1", &event()).unwrap(), "{db:?}: once");
        assert!(!store.unlink_identity(&t.id, &ada.id, &idp.id, "sub-2", &event()).unwrap(), "{db:?}: not hers");
        // Identities go with their user, and with their upstream.
        store.delete_user(&t.id, &bob.id, UnixTime::now().0, &event()).unwrap();
        assert_eq!(store.identity_user(&t.id, &idp.id, "sub-2").unwrap(), None, "{db:?}: with the user");
        store.link_identity(&link(&ada.id, "sub-3"), &event()).unwrap();
        admin::remove_upstream(&store, "test", &idp).unwrap();
        assert!(store.identities_of(&t.id, &ada.id).unwrap().is_empty(), "{db:?}: with the upstream");
    }
}
