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

/// JIT (O8): the account and its link are one transaction: a taken name or address, or an
/// identity linked meanwhile, leaves neither.
#[test]
fn a_provisioned_account_and_its_link_are_written_together_or_not_at_all() {
    for db in gatehouse_testkit::databases() {
        let store = open(&db);
        let t = tenant(&store, "acme");
        let input = UpstreamInput {
            issuer: Some("https://idp.example.com".into()),
            client_id: Some("gatehouse".into()),
            client_secret: Some(Secret::new("s".into())),
            ..Default::default()
        };
        let idp = admin::add_upstream(&store, store.vault(), "test", "acme", "idp", &input, NOW).unwrap();
        let existing = new_user("acme", "ada", "ada@example.com", &[]);
        admin::create_user(&store, &fast_hasher(), &Default::default(), "test", &existing, NOW).unwrap();
        let user = |id: &str, username: &str, email: &str| gatehouse_core::model::User {
            id: id.into(),
            tenant_id: t.id.clone(),
            username: username.into(),
            email: email.into(),
            password_hash: None,
            must_change_password: false,
            disabled: false,
            created_at: NOW.0,
            display_name: String::new(),
            email_verified: true,
            password_changed_at: None,
        };
        let identity = |user_id: &str, subject: &str| LinkedIdentity {
            tenant_id: t.id.clone(),
            upstream_id: idp.id.clone(),
            subject: subject.into(),
            user_id: user_id.into(),
            created_at: NOW.0,
            last_used_at: None,
        };
        let staff = [gatehouse_types::RoleName::parse("staff").unwrap()];
        let taken = user("u-1", "ada", "other@example.com");
        let refused = store.provision_identity(&taken, &staff, &identity("u-1", "s-1"), &event());
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{db:?}: {refused:?}");
        assert_eq!(store.identity_user(&t.id, &idp.id, "s-1").unwrap(), None, "{db:?}: no link without its account");
        let fay = user("u-2", "fay", "fay@example.com");
        store.provision_identity(&fay, &staff, &identity("u-2", "s-2"), &event()).unwrap();
        assert_eq!(store.identity_user(&t.id, &idp.id, "s-2").unwrap().as_deref(), Some("u-2"));
        assert_eq!(store.user_roles(&t.id, "u-2").unwrap(), ["staff"], "{db:?}");
        let twice =
            store.provision_identity(&user("u-3", "fay2", "f2@example.com"), &[], &identity("u-3", "s-2"), &event());
        assert!(matches!(twice, Err(StoreError::Conflict(_))), "{db:?}: the identity is linked already");
        assert!(store.user_by_id(&t.id, "u-3").unwrap().is_none(), "{db:?}: no account without its link");
    }
}
