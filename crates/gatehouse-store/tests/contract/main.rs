//! Store contract tests: one body per invariant, run on SQLite always and on PostgreSQL when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_core::admin::{self, CreateClient, CreateTenant, CreateUser};
use gatehouse_core::audit::{AuditEvent, ChainBreak, VerifyError, verify_chain};
use gatehouse_core::crypto::{CryptoError, MasterKey};
use gatehouse_core::model::Tenant;
use gatehouse_core::password::{PasswordHasher, PasswordPolicy};
use gatehouse_core::store::{AuditStore, ClientStore, TenantStore, UserStore};
use gatehouse_core::{StoreError, UnixTime};
use gatehouse_store::{DbUrl, OpenError, Store};
use gatehouse_testkit::{TestDatabase, databases};
use gatehouse_types::Secret;

mod administration;
mod federation;
mod mfa;

const NOW: UnixTime = UnixTime(1_790_000_000);

fn master() -> MasterKey {
    MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap()
}

fn open(db: &TestDatabase) -> Store {
    Store::open(&DbUrl::parse(&db.url).unwrap(), &master()).unwrap_or_else(|e| panic!("{db:?}: {e}"))
}

fn tenant(store: &Store, slug: &str) -> Tenant {
    admin::create_tenant(store, "test", &CreateTenant { slug: slug.into(), ..Default::default() }, NOW).unwrap()
}

fn audit_count(store: &Store) -> usize {
    store.audit_page(0, 10_000).unwrap().len()
}

fn fast_hasher() -> PasswordHasher {
    PasswordHasher::new(64, 1, 1).unwrap()
}

fn new_user(tenant: &str, username: &str, email: &str, roles: &[&str]) -> CreateUser {
    CreateUser {
        tenant: tenant.into(),
        username: username.into(),
        email: email.into(),
        password: Some(Secret::new("tangerine-orbit-delta".into())),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        must_change_password: false,
        self_registered: false,
    }
}

fn spa_client(tenant: &str, name: &str, kind: &str) -> CreateClient {
    CreateClient {
        tenant: tenant.into(),
        name: name.into(),
        client_type: kind.into(),
        redirect_uris: vec!["https://app.example.com/cb".into(), "http://127.0.0.1:3000/cb".into()],
        post_logout_redirect_uris: vec!["https://app.example.com/".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: "openid profile email offline_access".into(),
        first_party: true,
        ..Default::default()
    }
}

#[test]
fn tenants_round_trip_and_slug_is_unique() {
    for db in databases() {
        let store = open(&db);
        let t = tenant(&store, "acme");
        assert_eq!(store.tenant_by_slug("acme").unwrap(), Some(t.clone()), "{db:?}");
        assert_eq!(t.issuer("https://id.example.com/"), "https://id.example.com/tenants/acme");
        let before = audit_count(&store);
        let dup =
            admin::create_tenant(&store, "test", &CreateTenant { slug: "acme".into(), ..Default::default() }, NOW);
        assert!(
            matches!(
                dup,
                Err(admin::AdminError::Store(StoreError::Conflict("a tenant with this slug already exists")))
            ),
            "{db:?}: {dup:?}"
        );
        assert_eq!(audit_count(&store), before, "{db:?}: a refused change writes no audit record");
        assert_eq!(store.tenant_by_slug("nope").unwrap(), None);
    }
}

#[test]
fn users_round_trip_with_roles_and_uniqueness() {
    for db in databases() {
        let store = open(&db);
        let t = tenant(&store, "acme");
        let u = admin::create_user(
            &store,
            &fast_hasher(),
            &PasswordPolicy::default(),
            "test",
            &new_user("acme", "alice", "Alice@Example.com", &["tenant-admin", "billing"]),
            NOW,
        )
        .unwrap();
        let got = store.user_by_username(&t.id, "alice").unwrap().unwrap();
        assert_eq!(got, u, "{db:?}");
        assert_eq!(got.email, "alice@example.com");
        assert!(got.password_hash.as_ref().unwrap().expose().starts_with("$argon2id$"));
        assert_eq!(store.user_roles(&t.id, &u.id).unwrap(), vec!["billing", "tenant-admin"]);
        assert_eq!(store.count_role_members(&t.id, "tenant-admin").unwrap(), 1);

        let dup_name = admin::create_user(
            &store,
            &fast_hasher(),
            &PasswordPolicy::default(),
            "test",
            &new_user("acme", "alice", "other@example.com", &[]),
            NOW,
        );
        assert!(
            matches!(dup_name, Err(admin::AdminError::Store(StoreError::Conflict(m))) if m.contains("username")),
            "{db:?}: {dup_name:?}"
        );
        let dup_mail = admin::create_user(
            &store,
            &fast_hasher(),
            &PasswordPolicy::default(),
            "test",
            &new_user("acme", "alice2", "ALICE@example.com", &["new-role"]),
            NOW,
        );
        assert!(
            matches!(dup_mail, Err(admin::AdminError::Store(StoreError::Conflict(m))) if m.contains("email")),
            "{db:?}: {dup_mail:?}"
        );
        // The refused user's new role was rolled back with it.
        assert_eq!(store.count_role_members(&t.id, "new-role").unwrap(), 0);

        // The same username in another tenant is another user (AC1).
        let other = tenant(&store, "globex");
        admin::create_user(
            &store,
            &fast_hasher(),
            &PasswordPolicy::default(),
            "test",
            &new_user("globex", "alice", "alice@example.com", &[]),
            NOW,
        )
        .unwrap();
        assert_ne!(store.user_by_username(&other.id, "alice").unwrap().unwrap().id, u.id);
        assert!(store.user_roles(&other.id, &u.id).unwrap().is_empty(), "roles are scoped by tenant");
    }
}

#[test]
fn clients_round_trip_and_are_tenant_scoped() {
    for db in databases() {
        let store = open(&db);
        let acme = tenant(&store, "acme");
        let globex = tenant(&store, "globex");
        let created =
            admin::create_client(&store, store.vault(), "test", &spa_client("acme", "Web App", "public"), NOW).unwrap();
        assert!(created.client_secret.is_none());
        let got = store.client_by_id(&acme.id, &created.client.client_id).unwrap().unwrap();
        assert_eq!(got, created.client, "{db:?}");
        assert_eq!(store.client_by_id(&globex.id, &created.client.client_id).unwrap(), None, "{db:?}: other tenant");

        let mut backend = spa_client("acme", "Backend", "confidential");
        backend.grant_types = vec!["client_credentials".into()];
        backend.scope = "reports:read".into();
        let conf = admin::create_client(&store, store.vault(), "test", &backend, NOW).unwrap();
        let secret = conf.client_secret.unwrap();
        let stored = store.client_by_id(&acme.id, &conf.client.client_id).unwrap().unwrap();
        let expected = admin::client_secret_hash(store.vault(), &conf.client.client_id, &secret).unwrap();
        assert_eq!(stored.secret_hash, Some(expected));
        assert!(!stored.secret_hash.unwrap().windows(8).any(|w| secret.expose().as_bytes().starts_with(w)));

        let dup = admin::create_client(&store, store.vault(), "test", &spa_client("acme", "Web App", "public"), NOW);
        assert!(matches!(dup, Err(admin::AdminError::Store(StoreError::Conflict(_)))), "{db:?}: {dup:?}");
    }
}

#[test]
fn database_constraints_hold_without_core_checks() {
    for db in databases() {
        let store = open(&db);
        let t = tenant(&store, "acme");
        let mut c = admin::create_client(&store, store.vault(), "test", &spa_client("acme", "Web App", "public"), NOW)
            .unwrap()
            .client;
        c.client_id = "forged".into();
        c.name = "Forged".into();
        c.client_type = gatehouse_types::ClientType::Confidential; // no secret hash
        let before = audit_count(&store);
        let err = store.create_client(&c, &AuditEvent::new("test", "client.create"));
        assert!(matches!(err, Err(StoreError::Unavailable(_))), "{db:?}: {err:?}");
        assert_eq!(store.client_by_id(&t.id, "forged").unwrap(), None);
        assert_eq!(audit_count(&store), before);

        // A user in a tenant that does not exist violates the foreign key.
        let u = admin::create_user(
            &store,
            &fast_hasher(),
            &PasswordPolicy::default(),
            "test",
            &new_user("acme", "bob", "bob@example.com", &[]),
            NOW,
        )
        .unwrap();
        let mut orphan = u.clone();
        orphan.id = "orphan".into();
        orphan.username = "orphan".into();
        orphan.email = "orphan@example.com".into();
        orphan.tenant_id = "no-such-tenant".into();
        assert!(store.create_user(&orphan, &[], &AuditEvent::new("test", "user.create")).is_err(), "{db:?}");
    }
}

#[test]
fn audit_chain_verifies_and_detects_edits_and_deletions() {
    for db in databases() {
        let store = open(&db);
        for i in 0..5 {
            store.append_audit(&AuditEvent::new("test", "login").target(format!("user:{i}"))).unwrap();
        }
        let report = verify_chain(&store, store.vault()).unwrap();
        assert_eq!((report.records, report.head_seq), (5, 5), "{db:?}");

        // The database itself refuses updates and deletes.
        assert!(!db.try_execute("UPDATE audit_log SET actor = 'x' WHERE seq = 2"), "{db:?}: append-only trigger");
        assert!(!db.try_execute("DELETE FROM audit_log WHERE seq = 2"), "{db:?}: append-only trigger");

        // An attacker who removes the trigger and edits a row is caught.
        if db.backend == "sqlite" {
            db.execute("DROP TRIGGER audit_log_no_update");
            db.execute("DROP TRIGGER audit_log_no_delete");
        } else {
            db.execute("DROP TRIGGER audit_log_no_change ON audit_log");
        }
        db.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3");
        assert_eq!(
            verify_chain(&store, store.vault()),
            Err(VerifyError::Broken(ChainBreak::Modified { seq: 3 })),
            "{db:?}"
        );
        db.execute("UPDATE audit_log SET actor = 'test' WHERE seq = 3");
        assert!(verify_chain(&store, store.vault()).is_ok(), "{db:?}: restored row verifies again");
        db.execute("DELETE FROM audit_log WHERE seq = 2");
        assert_eq!(
            verify_chain(&store, store.vault()),
            Err(VerifyError::Broken(ChainBreak::Gap { seq: 3, expected: 2 })),
            "{db:?}"
        );
    }
}

#[test]
fn concurrent_appends_keep_one_chain() {
    for db in databases() {
        let store = open(&db);
        std::thread::scope(|s| {
            for t in 0..4 {
                let store = store.clone();
                s.spawn(move || {
                    for i in 0..10 {
                        store.append_audit(&AuditEvent::new("test", "token.issue").target(format!("{t}-{i}"))).unwrap();
                    }
                    // Group commit interleaved with single appends keeps one chain too.
                    let batch: Vec<_> =
                        (0..5).map(|i| AuditEvent::new("test", "token.issue").target(format!("{t}-b{i}"))).collect();
                    store.append_audit_batch(&batch).unwrap();
                });
            }
        });
        let report = verify_chain(&store, store.vault()).unwrap();
        assert_eq!(report.records, 60, "{db:?}");
    }
}

#[test]
fn reopening_migrates_nothing_and_wrong_master_key_is_refused() {
    for db in databases() {
        let store = open(&db);
        assert!(store.database().migrate().unwrap().is_empty(), "{db:?}");
        drop(store);
        let (other, _) = MasterKey::generate();
        let err = Store::open(&DbUrl::parse(&db.url).unwrap(), &other).unwrap_err();
        assert!(matches!(err, OpenError::Crypto(CryptoError::WrongMasterKey)), "{db:?}: {err}");
        // The right key still opens it.
        open(&db);
    }
}

#[test]
fn bootstrap_creates_platform_admin_once() {
    for db in databases() {
        let store = open(&db);
        let first = admin::bootstrap_platform(&store, &fast_hasher(), NOW).unwrap().expect("first start bootstraps");
        assert!(first.one_time_password.expose().len() >= 32);
        let admin_user = store.user_by_username(&first.tenant.id, "admin").unwrap().unwrap();
        assert!(admin_user.must_change_password, "{db:?}: A8 one-time password");
        assert_eq!(store.user_roles(&first.tenant.id, &admin_user.id).unwrap(), vec!["platform-admin"]);
        assert!(admin::bootstrap_platform(&store, &fast_hasher(), NOW).unwrap().is_none(), "{db:?}: second start");
    }
}

#[test]
fn purge_removes_what_expired_and_keeps_what_is_live() {
    use gatehouse_core::store::{CodeRecord, FlowStore, PendingRequest, RefreshRecord, RevocationStore, SessionRecord};

    for db in databases() {
        let store = open(&db);
        let t = tenant(&store, "acme");
        let user = admin::create_user(
            &store,
            &fast_hasher(),
            &PasswordPolicy::default(),
            "test",
            &new_user("acme", "alice", "a@example.com", &[]),
            NOW,
        )
        .unwrap();
        let now = NOW.0;
        let audit = AuditEvent::new("test", "test");
        let session = |sid: &str, expires_at: i64| SessionRecord {
            sid: sid.into(),
            tenant_id: t.id.clone(),
            user_id: user.id.clone(),
            auth_time: now - 7200,
            amr: "pwd".into(),
            acr: "acr".into(),
            created_at: now - 7200,
            last_seen_at: now,
            expires_at,
            user_agent_hash: None,
            client_ip: None,
            user_agent: None,
        };
        store.create_session(b"old", &session("old", now - 7200), &audit).unwrap();
        store.create_session(b"live", &session("live", now + 3600), &audit).unwrap();
        let request = |id: &str, expires_at: i64| PendingRequest {
            id: id.into(),
            tenant_id: t.id.clone(),
            client_id: "c".into(),
            params: "{}".into(),
            binding_hash: vec![1],
            csrf_hash: vec![2],
            created_at: now - 600,
            expires_at,
        };
        store.save_request(&request("old", now - 1)).unwrap();
        store.save_request(&request("live", now + 600)).unwrap();
        store.revoke_jti(&t.id, "old-jti", "c", now - 1, &audit).unwrap();
        store.revoke_jti(&t.id, "live-jti", "c", now + 600, &audit).unwrap();
        assert!(store.use_assertion_jti(&t.id, "c", "old-a", now - 1).unwrap());
        assert!(store.use_assertion_jti(&t.id, "c", "live-a", now + 600).unwrap());
        let code = |hash: &[u8], sid: &str, expires_at: i64| CodeRecord {
            code_hash: hash.to_vec(),
            tenant_id: t.id.clone(),
            client_id: "c".into(),
            user_id: user.id.clone(),
            sid: sid.into(),
            redirect_uri: "https://app.example.com/cb".into(),
            scope: "openid".into(),
            nonce: None,
            code_challenge: "x".into(),
            auth_time: now,
            amr: "pwd".into(),
            acr: "acr".into(),
            expires_at,
        };
        // Past its expiry and the replay grace (an hour) / still within the grace.
        store.save_code(&code(b"old-code", "old", now - 7200), &audit).unwrap();
        store.save_code(&code(b"late-code", "live", now - 60), &audit).unwrap();
        let refresh = |hash: &[u8], expires_at: i64| RefreshRecord {
            token_hash: hash.to_vec(),
            tenant_id: t.id.clone(),
            client_id: "c".into(),
            user_id: user.id.clone(),
            family_id: "f".into(),
            sid: "live".into(),
            scope: "openid".into(),
            auth_time: now,
            amr: "pwd".into(),
            acr: "acr".into(),
            access_jti: "j".into(),
            created_at: now - 100,
            expires_at,
        };
        store.save_refresh(&refresh(b"old-rt", now - 1), &audit).unwrap();
        store.save_refresh(&refresh(b"live-rt", now + 600), &audit).unwrap();
        assert_eq!(store.session_clients(&t.id, "old").unwrap(), ["c"], "{db:?}");

        let purged = store.purge_expired(now, 1800).unwrap();
        assert_eq!((purged.sessions, purged.auth_requests), (1, 1), "{db:?}: {purged:?}");
        assert_eq!((purged.revoked_tokens, purged.assertion_jtis), (1, 1), "{db:?}: {purged:?}");
        assert_eq!((purged.auth_codes, purged.refresh_tokens), (1, 1), "{db:?}: {purged:?}");
        assert_eq!(purged.session_clients, 1, "{db:?}: the purged session's participants go with it");
        assert!(store.refresh_by_hash(&t.id, b"live-rt").unwrap().is_some(), "{db:?}");
        assert_eq!(store.session_clients(&t.id, "live").unwrap(), ["c"], "{db:?}: the live session's stay");
        assert!(store.session(&t.id, b"live", now).unwrap().is_some(), "{db:?}");
        assert!(store.pending_request(&t.id, "live", now).unwrap().is_some(), "{db:?}");
        assert!(store.is_revoked(&t.id, "live-jti").unwrap(), "{db:?}: a live revocation stays");
        assert!(!store.use_assertion_jti(&t.id, "c", "live-a", now + 600).unwrap(), "{db:?}: replay still caught");
        assert_eq!(store.purge_expired(now, 1800).unwrap(), Default::default(), "{db:?}: nothing left to purge");
    }
}

#[test]
fn pruning_keeps_the_chain_verifiable_and_the_anchor_tamper_evident() {
    for db in databases() {
        let store = open(&db);
        for slug in ["a1", "a2", "a3"] {
            tenant(&store, slug);
        }
        assert_eq!(audit_count(&store), 3);
        let later = UnixTime::now().0 + 10;
        let pruned = store.prune_audit(later, &AuditEvent::new("test", "audit.prune")).unwrap();
        assert_eq!(pruned, 2, "{db:?}: everything older, except the newest record");
        let report = verify_chain(&store, store.vault()).unwrap();
        assert_eq!((report.records, report.head_seq), (2, 4), "{db:?}: the newest and the prune record");
        tenant(&store, "a4");
        assert_eq!(verify_chain(&store, store.vault()).unwrap().records, 3, "{db:?}: the chain goes on");

        assert!(!db.try_execute("DELETE FROM audit_log WHERE seq = 3"), "{db:?}: append-only again after pruning");
        db.execute("UPDATE audit_anchor SET seq = seq + 1");
        let moved = verify_chain(&store, store.vault()).unwrap_err();
        assert!(matches!(moved, VerifyError::Broken(ChainBreak::Anchor { .. })), "{db:?}: {moved}");
    }
}

/// L3: only the prune gets past the append-only guard. PostgreSQL: the old prune setting no
/// longer opens it, `TRUNCATE` is refused, and an anchor someone writes to delete records is
/// no genuine anchor, which `audit verify` reports.
#[test]
fn only_a_genuine_prune_removes_audit_records() {
    for db in databases() {
        let store = open(&db);
        for slug in ["a1", "a2", "a3", "a4"] {
            tenant(&store, slug);
        }
        assert!(!db.try_execute("DELETE FROM audit_log WHERE seq = 2"), "{db:?}: no anchor covers it");
        if db.backend == "postgres" {
            assert!(!db.try_execute("TRUNCATE audit_log"), "TRUNCATE is refused");
            let with_flag = "DO $$ BEGIN PERFORM set_config('gatehouse.audit_prune', 'on', true); \
                             DELETE FROM audit_log WHERE seq = 2; END $$";
            assert!(!db.try_execute(with_flag), "the old prune setting opens nothing");
            // An anchor from an earlier transaction does not cover deletes in a later one.
            db.execute("INSERT INTO audit_anchor (id, seq, hash, mac, pruned_at) VALUES (1, 3, '\\x00', '\\x00', 0)");
            assert!(!db.try_execute("DELETE FROM audit_log WHERE seq = 2"), "an old anchor opens nothing");
            db.execute("DELETE FROM audit_anchor");
        }
        assert_eq!(audit_count(&store), 4, "{db:?}: nothing went");
        // Whoever writes an anchor of their own to get records deleted is caught by verify.
        let forged = if db.backend == "postgres" {
            "DO $$ BEGIN INSERT INTO audit_anchor (id, seq, hash, mac, pruned_at) VALUES (1, 2, '\\x00', '\\x00', 0); \
             DELETE FROM audit_log WHERE seq <= 2; END $$"
        } else {
            "INSERT INTO audit_anchor (id, seq, hash, mac, pruned_at) VALUES (1, 2, x'00', x'00', 0)"
        };
        db.execute(forged);
        if db.backend == "sqlite" {
            db.execute("DELETE FROM audit_log WHERE seq <= 2");
        }
        let broken = verify_chain(&store, store.vault()).unwrap_err();
        assert!(matches!(broken, VerifyError::Broken(ChainBreak::Anchor { .. })), "{db:?}: {broken}");
    }
}
