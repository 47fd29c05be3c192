//! AC1, AC2, L3: administrative changes are conditional on what the administrator read, so
//! of two administrators changing the same thing from the same version exactly one wins (also
//! when they race), and searches of the audit log stay inside a tenant.

use std::sync::{Arc, Barrier};

use gatehouse_core::admin::{self};
use gatehouse_core::store::{AdminStore, AuditFilter, CHANGED_MEANWHILE, UserStore};

use super::{NOW, fast_hasher, new_user, open, spa_client, tenant};

/// Runs `n` copies of `f` at once; how many returned `Ok`, the others must be "changed meanwhile".
fn race<F>(n: usize, f: F) -> usize
where
    F: Fn() -> Result<(), gatehouse_core::StoreError> + Send + Sync + 'static,
{
    let (f, barrier) = (Arc::new(f), Arc::new(Barrier::new(n)));
    let racers: Vec<_> = (0..n)
        .map(|_| {
            let (f, barrier) = (f.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                match f() {
                    Ok(()) => 1,
                    Err(e) => {
                        assert_eq!(e, CHANGED_MEANWHILE, "a loser is told the record changed");
                        0
                    }
                }
            })
        })
        .collect();
    racers.into_iter().map(|h| h.join().unwrap()).sum()
}

#[test]
fn of_two_changes_from_one_version_exactly_one_wins() {
    for db in gatehouse_testkit::databases() {
        let store = Arc::new(open(&db));
        let t = tenant(&store, "acme");
        let created =
            admin::create_client(&*store, store.vault(), "test", &spa_client("acme", "Web", "public"), NOW).unwrap();
        let before = created.client;
        let wins = {
            let (store, before) = (store.clone(), before.clone());
            race(4, move || {
                let after = gatehouse_core::model::Client { scope: "openid".into(), ..before.clone() };
                store.replace_client(&before, &after, &gatehouse_core::audit::AuditEvent::new("test", "client.update"))
            })
        };
        assert_eq!(wins, 1, "{db:?}: one of four client changes from the same version");

        let user = admin::create_user(
            &*store,
            &fast_hasher(),
            &Default::default(),
            "test",
            &new_user("acme", "ada", "ada@example.com", &["a"]),
            NOW,
        )
        .unwrap();
        let wins = {
            let (store, t, u) = (store.clone(), t.id.clone(), user.id.clone());
            race(4, move || {
                let event = gatehouse_core::audit::AuditEvent::new("test", "user.roles");
                store.set_user_roles(&t, &u, &["a".to_owned()], &["b".to_owned()], &event)
            })
        };
        assert_eq!(wins, 1, "{db:?}: one of four role changes from the same roles");
        assert_eq!(store.user_roles(&t.id, &user.id).unwrap(), ["b"]);

        let wins = {
            let (store, user) = (store.clone(), user.clone());
            race(4, move || {
                let after = gatehouse_core::model::User { disabled: true, ..user.clone() };
                store.update_user(&user, &after, NOW.0, &gatehouse_core::audit::AuditEvent::new("test", "user.update"))
            })
        };
        assert_eq!(wins, 1, "{db:?}: one of four user changes from the same version");
        assert!(store.user_by_id(&t.id, &user.id).unwrap().unwrap().disabled);
    }
}

#[test]
fn audit_searches_stay_in_their_tenant_and_filter_newest_first() {
    for db in gatehouse_testkit::databases() {
        let store = open(&db);
        let (acme, globex) = (tenant(&store, "acme"), tenant(&store, "globex"));
        admin::create_client(&store, store.vault(), "test", &spa_client("acme", "Web", "public"), NOW).unwrap();
        admin::create_client(&store, store.vault(), "test", &spa_client("globex", "Web", "public"), NOW).unwrap();
        let search = |tenant: &str, action: Option<&str>| AuditFilter {
            tenant_id: Some(tenant.to_owned()),
            action: action.map(str::to_owned),
            limit: 100,
            ..Default::default()
        };
        let acme_records = store.search_audit(&search(&acme.id, None)).unwrap();
        assert!(!acme_records.is_empty());
        assert!(acme_records.iter().all(|r| r.tenant_id.as_deref() == Some(acme.id.as_str())), "{db:?}: AC1");
        assert!(acme_records.windows(2).all(|w| w[0].seq > w[1].seq), "{db:?}: newest first");
        let created = store.search_audit(&search(&globex.id, Some("client.create"))).unwrap();
        assert_eq!(created.len(), 1, "{db:?}");
        let before =
            store.search_audit(&AuditFilter { before_seq: Some(created[0].seq), ..search(&globex.id, None) }).unwrap();
        assert!(before.iter().all(|r| r.seq < created[0].seq), "{db:?}: the cursor");
        let later = AuditFilter { since: Some(NOW.0 + 10_000_000_000), ..search(&acme.id, None) };
        assert!(store.search_audit(&later).unwrap().is_empty(), "{db:?}: the time filter");
    }
}
