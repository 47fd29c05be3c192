//! The operator CLI (operator contract, IO1, A2, A8, L2, L3, OP1): JSON outputs, refused input
//! that changes nothing, the chain check, and the CLI working beside a running server.

use gatehouse_core::store::TenantStore;
use gatehouse_testkit::{TestDatabase, databases};

use crate::support::{TestServer, gatehouse, gatehouse_in, json_ok, refused};

const PASSWORD: &str = "tangerine-orbit-delta";

/// Number of audit records, through the CLI; every change writes one in its transaction.
fn audit_records(db: &TestDatabase) -> u64 {
    json_ok(&gatehouse(db, &["audit", "verify", "--json"], None))["records"].as_u64().unwrap()
}

/// `alice` in `acme`, created through the CLI with the password on stdin.
fn create_alice(db: &TestDatabase) -> serde_json::Value {
    let create = ["user", "create", "--tenant", "acme", "--username", "alice", "--email", "a@example.com"];
    json_ok(&gatehouse(db, &[&create[..], &["--password-stdin", "--json"]].concat(), Some(PASSWORD)))
}

fn create_acme(db: &TestDatabase) -> serde_json::Value {
    json_ok(&gatehouse(db, &["tenant", "create", "acme", "--display-name", "Acme Corp", "--json"], None))
}

#[test]
fn commands_print_one_json_object() {
    for db in databases() {
        let t = create_acme(&db);
        assert_eq!(t["slug"], "acme", "{db:?}");
        assert_eq!(t["issuer"], "https://localhost:8443/tenants/acme");
        assert_eq!(t["id"].as_str().unwrap().len(), 36);
        assert_eq!(t["bind_sessions"], false);
        let bound = json_ok(&gatehouse(&db, &["tenant", "create", "bound", "--bind-sessions", "--json"], None));
        assert_eq!(bound["bind_sessions"], true, "S5: a tenant policy");

        let spa = json_ok(&gatehouse(
            &db,
            &[
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "Web App",
                "--type",
                "public",
                "--redirect-uri",
                "https://app.example.com/cb",
                "http://127.0.0.1:5173/cb",
                "--post-logout-redirect-uri",
                "https://app.example.com/",
                "--grant",
                "authorization_code",
                "refresh_token",
                "--scope",
                "openid profile email offline_access",
                "--first-party",
                "--json",
            ],
            None,
        ));
        assert!(spa["client_id"].as_str().unwrap().len() >= 22);
        assert!(spa.get("client_secret").is_none(), "public clients have no secret");
        assert_eq!(spa["redirect_uris"], serde_json::json!(["https://app.example.com/cb", "http://127.0.0.1:5173/cb"]));

        let backend = gatehouse(
            &db,
            &[
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "Backend",
                "--type",
                "confidential",
                "--grant",
                "client_credentials",
                "--scope",
                "api:read",
                "--json",
            ],
            None,
        );
        let b = json_ok(&backend);
        let secret = b["client_secret"].as_str().unwrap();
        assert!(secret.len() >= 43, "256-bit secret");
        assert!(!String::from_utf8_lossy(&backend.stderr).contains(secret), "L2: the secret is not logged");

        let user = gatehouse(
            &db,
            &[
                "user",
                "create",
                "--tenant",
                "acme",
                "--username",
                "alice",
                "--email",
                "alice@example.com",
                "--password-stdin",
                "--role",
                "tenant-admin",
                "--role",
                "billing",
                "--json",
            ],
            Some(&format!("{PASSWORD}\n")),
        );
        let u = json_ok(&user);
        assert_eq!(u["id"].as_str().unwrap().len(), 36);
        assert_eq!(u["roles"], serde_json::json!(["billing", "tenant-admin"]));

        let pruned = json_ok(&gatehouse(&db, &["audit", "prune", "--json"], None));
        assert_eq!((pruned["pruned"].as_u64(), pruned["older_than_days"].as_u64()), (Some(0), Some(120)), "L3");
        let p = json_ok(&gatehouse(&db, &["purge", "--json"], None));
        assert_eq!((p["sessions"].as_u64(), p["auth_codes"].as_u64()), (Some(0), Some(0)), "D3: nothing expired yet");

        let m = json_ok(&gatehouse(&db, &["migrate", "--json"], None));
        assert_eq!(m["applied"], serde_json::json!([]), "already migrated");
        assert_eq!(m["backend"], db.backend);

        let v = json_ok(&gatehouse(&db, &["audit", "verify", "--json"], None));
        assert_eq!(v["ok"], true);
        assert_eq!(v["records"], 5, "{db:?}: two tenants, two clients, user");

        // IO5: no output carries a hash, a password or a secret (but the new client's own
        // secret, shown once).
        let mut shown_once = b.clone();
        shown_once.as_object_mut().unwrap().remove("client_secret");
        for out in [&t, &bound, &spa, &shown_once, &u, &pruned, &p, &m, &v] {
            assert_no_secrets(out);
        }
    }
}

/// IO5: `value` has no key naming a hash, password or secret, and no string that is a PHC
/// password hash.
pub fn assert_no_secrets(value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let k = k.to_lowercase();
                // Booleans saying how a value is used are fine; values are not. The audit
                // chain's head is no secret: operators record it elsewhere (L3).
                let named = ["hash", "password", "secret", "private"].iter().any(|w| k.contains(w));
                assert!(!named || v.is_boolean() || k == "head_hash", "IO5: {k} in {value}");
                assert_no_secrets(v);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(assert_no_secrets),
        serde_json::Value::String(s) => assert!(!s.starts_with("$argon2"), "IO5: a password hash in {value}"),
        _ => {}
    }
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    for db in databases() {
        create_acme(&db);
        let before = audit_records(&db);
        let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
            (vec!["tenant", "create", "Bad_Slug", "--json"], None, "tenant slug may contain only"),
            (vec!["tenant", "create", "acme", "--json"], None, "already exists"),
            (vec!["tenant", "create", "ok-slug", "--display-name", "bad\u{7}name", "--json"], None, "display name"),
            (
                vec![
                    "user",
                    "create",
                    "--tenant",
                    "nope",
                    "--username",
                    "bob",
                    "--email",
                    "bob@example.com",
                    "--password-stdin",
                    "--json",
                ],
                Some(PASSWORD),
                "unknown tenant",
            ),
            (
                vec![
                    "user",
                    "create",
                    "--tenant",
                    "acme",
                    "--username",
                    "bob smith",
                    "--email",
                    "bob@example.com",
                    "--password-stdin",
                    "--json",
                ],
                Some(PASSWORD),
                "username may contain only",
            ),
            (
                vec![
                    "user",
                    "create",
                    "--tenant",
                    "acme",
                    "--username",
                    "bob",
                    "--email",
                    "bob@example.com",
                    "--password-stdin",
                    "--json",
                ],
                Some("short"),
                "password must be at least 12 characters",
            ),
            (
                vec![
                    "user",
                    "create",
                    "--tenant",
                    "acme",
                    "--username",
                    "bob",
                    "--email",
                    "bob@example.com",
                    "--password-stdin",
                    "--json",
                ],
                Some("qwerty123456"),
                "password is too common",
            ),
            (
                vec![
                    "user",
                    "create",
                    "--tenant",
                    "acme",
                    "--username",
                    "bob",
                    "--email",
                    "not-an-email",
                    "--password-stdin",
                    "--json",
                ],
                Some(PASSWORD),
                "email must look like",
            ),
            (
                vec![
                    "user",
                    "create",
                    "--tenant",
                    "acme",
                    "--username",
                    "bob",
                    "--email",
                    "bob@example.com",
                    "--password-stdin",
                    "--role",
                    "platform-admin",
                    "--json",
                ],
                Some(PASSWORD),
                "only in the platform tenant",
            ),
            (
                vec![
                    "client",
                    "create",
                    "--tenant",
                    "acme",
                    "--name",
                    "X",
                    "--type",
                    "public",
                    "--redirect-uri",
                    "/callback",
                    "--grant",
                    "authorization_code",
                    "--scope",
                    "openid",
                    "--json",
                ],
                None,
                "redirect URI must be an absolute URL",
            ),
            (
                vec![
                    "client",
                    "create",
                    "--tenant",
                    "acme",
                    "--name",
                    "X",
                    "--type",
                    "public",
                    "--redirect-uri",
                    "http://app.example.com/cb",
                    "--grant",
                    "authorization_code",
                    "--scope",
                    "openid",
                    "--json",
                ],
                None,
                "must use https",
            ),
            (
                vec![
                    "client",
                    "create",
                    "--tenant",
                    "acme",
                    "--name",
                    "X",
                    "--type",
                    "public",
                    "--grant",
                    "client_credentials",
                    "--scope",
                    "api",
                    "--json",
                ],
                None,
                "public client cannot use the client_credentials grant",
            ),
            (
                vec![
                    "client",
                    "create",
                    "--tenant",
                    "acme",
                    "--name",
                    "X",
                    "--type",
                    "secret",
                    "--grant",
                    "client_credentials",
                    "--scope",
                    "api",
                    "--json",
                ],
                None,
                "client type must be",
            ),
            (
                vec![
                    "client",
                    "create",
                    "--tenant",
                    "acme",
                    "--name",
                    "X",
                    "--type",
                    "confidential",
                    "--grant",
                    "password",
                    "--scope",
                    "api",
                    "--json",
                ],
                None,
                "grant must be one of",
            ),
            (
                vec![
                    "client",
                    "create",
                    "--tenant",
                    "acme",
                    "--name",
                    "<b>X</b>",
                    "--type",
                    "confidential",
                    "--grant",
                    "client_credentials",
                    "--scope",
                    "api",
                    "--json",
                ],
                None,
                "client name must be",
            ),
        ];
        for (args, stdin, needle) in &cases {
            let out = gatehouse(&db, args, *stdin);
            refused(&out, needle);
            assert_eq!(
                String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with("error:")).count(),
                1,
                "{args:?}"
            );
        }
        assert_eq!(audit_records(&db), before, "{db:?}: refused commands wrote nothing");
        // The name refused above is still free.
        json_ok(&gatehouse(
            &db,
            &[
                "user",
                "create",
                "--tenant",
                "acme",
                "--username",
                "bob",
                "--email",
                "bob@example.com",
                "--password-stdin",
                "--json",
            ],
            Some(PASSWORD),
        ));
    }
}

#[test]
fn audit_verify_detects_an_edited_or_deleted_row() {
    for db in databases() {
        create_acme(&db);
        json_ok(&gatehouse(&db, &["tenant", "create", "globex", "--json"], None));
        json_ok(&gatehouse(&db, &["tenant", "create", "initech", "--json"], None));
        assert_eq!(audit_records(&db), 3);
        if db.backend == "sqlite" {
            db.execute("DROP TRIGGER audit_log_no_update");
            db.execute("DROP TRIGGER audit_log_no_delete");
        } else {
            db.execute("DROP TRIGGER audit_log_no_change ON audit_log");
        }
        db.execute("UPDATE audit_log SET details = '{}' WHERE seq = 2");
        refused(&gatehouse(&db, &["audit", "verify", "--json"], None), "record 2: hash does not match");
        db.execute("DELETE FROM audit_log WHERE seq = 2");
        refused(&gatehouse(&db, &["audit", "verify"], None), "record 3: expected sequence number 2");
    }
}

#[test]
fn secrets_never_reach_the_logs() {
    let db = TestDatabase::sqlite();
    create_acme(&db);
    let env = [("GATEHOUSE_LOG", "trace"), ("GATEHOUSE_LOG_FORMAT", "json")];
    let out = gatehouse_in(
        db.dir.path(),
        &db.url,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--username",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
            "--json",
        ],
        Some(PASSWORD),
        &env,
    );
    json_ok(&out);
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.contains("\"action\":\"user.create\""), "trace logs were written: {logs}");
    assert!(!logs.contains(PASSWORD) && !logs.contains("$argon2id$"), "{logs}");
    let master = std::fs::read_to_string(db.dir.path().join("master.key")).unwrap();
    let key_line = master.lines().last().unwrap();
    assert!(!logs.contains(key_line));
}

#[test]
fn configuration_errors_name_the_key_and_production_refuses_generated_keys() {
    let db = TestDatabase::sqlite();
    let out = gatehouse_in(db.dir.path(), &db.url, &["migrate"], None, &[("GATEHOUSE_HTTPS_ADDR", "everywhere")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GATEHOUSE_HTTPS_ADDR"));

    let cert_dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::support::write_cert(cert_dir.path(), "prod");
    let prod = [
        ("GATEHOUSE_MODE", "production"),
        ("GATEHOUSE_TLS_CERT", cert.to_str().unwrap()),
        ("GATEHOUSE_TLS_KEY", key.to_str().unwrap()),
    ];
    let out = gatehouse_in(db.dir.path(), &db.url, &["tenant", "create", "acme"], None, &prod);
    refused(&out, "production mode refuses to generate one");
    assert!(!db.dir.path().join("master.key").exists(), "no key was generated");
    // A development key file is refused in production too.
    gatehouse(&db, &["migrate"], None);
    json_ok(&gatehouse(&db, &["tenant", "create", "acme", "--json"], None));
    let out = gatehouse_in(db.dir.path(), &db.url, &["tenant", "create", "globex"], None, &prod);
    refused(&out, "generated for development");
}

#[actix_web::test]
async fn commands_work_beside_a_running_server() {
    for db in databases() {
        let server = TestServer::start(&db, None).await;
        let out = tokio::task::spawn_blocking({
            let (dir, url) = (db.dir.path().to_owned(), db.url.clone());
            move || gatehouse_in(&dir, &url, &["tenant", "create", "acme", "--json"], None, &[])
        })
        .await
        .unwrap();
        let created = json_ok(&out);
        // The server's own store sees the tenant at once: nothing is cached without invalidation.
        let seen = server.running.store.tenant_by_slug("acme").unwrap().unwrap();
        assert_eq!(seen.id, created["id"].as_str().unwrap(), "{db:?}");
        let res = server.client.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        // Bootstrap ran once, at server start (A8): the CLI did not create a second admin.
        assert_eq!(audit_records(&db), 3, "{db:?}: platform tenant, admin, acme");
    }
}

#[test]
fn master_key_rotation_rewraps_the_data_keys() {
    for db in databases() {
        create_acme(&db);
        // A client with a sealed signing key, so there is data under the data keys.
        json_ok(&gatehouse(&db, &["keys", "rotate", "--tenant", "acme", "--json"], None));
        let new_file = db.dir.path().join("master-2.key");
        let new_path = new_file.to_str().unwrap();

        // Refused input changes nothing: the new key never overwrites a file.
        std::fs::write(&new_file, "occupied").unwrap();
        refused(&gatehouse(&db, &["keys", "rotate-master", "--new-key-file", new_path], None), "already exists");
        assert_eq!(std::fs::read_to_string(&new_file).unwrap(), "occupied");
        std::fs::remove_file(&new_file).unwrap();

        let out = json_ok(&gatehouse(&db, &["keys", "rotate-master", "--new-key-file", new_path, "--json"], None));
        assert_eq!(out["rewrapped"], 7, "{db:?}: one data key per kind");
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&new_file).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "{db:?}");

        // The old key no longer opens the data; the new one does, with every secret and the
        // audit chain (keyed by a re-wrapped key) intact.
        refused(&gatehouse(&db, &["audit", "verify"], None), "wrong master key");
        let with_new = [("GATEHOUSE_MASTER_KEY_FILE", new_path)];
        let verified = json_ok(&gatehouse_in(db.dir.path(), &db.url, &["audit", "verify", "--json"], None, &with_new));
        assert_eq!(verified["records"], 3, "{db:?}: tenant, key rotation, master-key rotation");
        json_ok(&gatehouse_in(
            db.dir.path(),
            &db.url,
            &["keys", "rotate", "--tenant", "acme", "--json"],
            None,
            &with_new,
        ));
    }
}

#[test]
fn user_unlock_lifts_a_lockout_and_refuses_unknown_users() {
    for db in databases() {
        create_acme(&db);
        create_alice(&db);
        refused(
            &gatehouse(&db, &["user", "unlock", "--tenant", "acme", "--username", "mallory"], None),
            "unknown user",
        );
        let unlock = ["user", "unlock", "--tenant", "acme", "--username", "alice", "--json"];
        assert_eq!(json_ok(&gatehouse(&db, &unlock, None))["cleared"], false, "{db:?}");
        let before = audit_records(&db);
        // AC6, L3: an administrator's unlock is recorded even when there was nothing to lift
        // (the record says so), so the log shows every administrative attempt.
        assert_eq!(before, 3, "{db:?}: tenant, user and the unlock of nothing");
        db.execute(
            "INSERT INTO account_lockouts (tenant_id, user_id, failures, lockouts, locked_until, updated_at) \
             SELECT tenant_id, id, 0, 1, 4102444800, 0 FROM users WHERE username = 'alice'",
        );
        assert_eq!(json_ok(&gatehouse(&db, &unlock, None))["cleared"], true, "{db:?}");
        assert_eq!(audit_records(&db), before + 1, "{db:?}: the lift is audited");
    }
}

#[test]
fn user_reset_password_reads_stdin_and_checks_the_policy() {
    for db in databases() {
        create_acme(&db);
        create_alice(&db);
        let reset =
            |who: &'static str| ["user", "reset-password", "--tenant", "acme", "--username", who, "--password-stdin"];
        refused(&gatehouse(&db, &reset("mallory"), Some("marmalade-quartz-violet")), "unknown user");
        refused(&gatehouse(&db, &reset("alice"), Some("short")), "at least");
        assert_eq!(audit_records(&db), 2, "{db:?}: refused resets change nothing");
        let out =
            json_ok(&gatehouse(&db, &[&reset("alice")[..], &["--json"]].concat(), Some("marmalade-quartz-violet")));
        assert_eq!(out["sessions_ended"], 0, "{db:?}");
        assert_eq!(audit_records(&db), 3, "{db:?}");
    }
}

#[test]
fn backup_and_restore_bring_the_database_back() {
    for db in databases() {
        create_acme(&db);
        let file = db.dir.path().join("acme.ghbak");
        let path = file.to_str().unwrap();
        let out = json_ok(&gatehouse(&db, &["backup", "--out", path, "--json"], None));
        assert_eq!(out["backend"], db.backend);
        let bytes = std::fs::read(&file).unwrap();
        assert!(!bytes.windows(9).any(|w| w == b"Acme Corp"), "{db:?}: the snapshot is encrypted");
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        refused(&gatehouse(&db, &["backup", "--out", path], None), "already exists");

        // A change made after the backup is gone once it is restored; the chain verifies.
        json_ok(&gatehouse(&db, &["tenant", "create", "globex", "--json"], None));
        let out = json_ok(&gatehouse(&db, &["restore", "--from", path, "--json"], None));
        assert_eq!(out["audit_records"], 1, "{db:?}: the snapshot holds acme's record only");
        assert_eq!(audit_records(&db), 2, "{db:?}: and the restore's own");
        json_ok(&gatehouse(&db, &["tenant", "create", "globex", "--json"], None));

        // An altered backup, or another master key: refused, and nothing changes.
        let mut altered = bytes.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        let altered_path = db.dir.path().join("altered.ghbak");
        std::fs::write(&altered_path, &altered).unwrap();
        refused(&gatehouse(&db, &["restore", "--from", altered_path.to_str().unwrap()], None), "altered");
        let other_key = [("GATEHOUSE_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")];
        refused(&gatehouse_in(db.dir.path(), &db.url, &["restore", "--from", path], None, &other_key), "master key");
        assert_eq!(audit_records(&db), 3, "{db:?}: acme, restore, globex again");
    }
}

#[test]
fn pending_migrations_on_a_database_with_data_are_backed_up_first() {
    for db in databases() {
        create_acme(&db);
        let backups = db.dir.path().join("backups");
        assert!(!backups.exists(), "{db:?}: nothing pending, no backup");
        // Roll the newest migration back behind Gatehouse's back: it is pending again.
        db.execute("DROP TABLE account_lockouts");
        db.execute("DELETE FROM __diesel_schema_migrations WHERE version = '20261202000005'");
        let out = json_ok(&gatehouse(&db, &["migrate", "--json"], None));
        assert_eq!(out["applied"].as_array().unwrap().len(), 1, "{db:?}");
        let file = std::path::PathBuf::from(out["backup"].as_str().expect("a backup was taken"));
        assert!(file.starts_with(&backups) && file.exists(), "{db:?}: {file:?}");
        // The backup is a real one: it restores (the migration then runs again on open).
        let out = json_ok(&gatehouse(&db, &["restore", "--from", file.to_str().unwrap(), "--json"], None));
        assert_eq!(out["audit_records"], 1, "{db:?}");
        assert_eq!(std::fs::read_dir(&backups).unwrap().count(), 2, "{db:?}: restoring migrated, after a backup");
    }
}

#[test]
fn user_delete_refuses_unknown_users_and_is_audited() {
    for db in databases() {
        create_acme(&db);
        create_alice(&db);
        refused(
            &gatehouse(&db, &["user", "delete", "--tenant", "acme", "--username", "mallory"], None),
            "unknown user",
        );
        let out =
            json_ok(&gatehouse(&db, &["user", "delete", "--tenant", "acme", "--username", "alice", "--json"], None));
        assert_eq!(out["deleted"], true);
        assert_eq!(audit_records(&db), 3, "{db:?}: tenant, user, deletion");
        refused(&gatehouse(&db, &["user", "delete", "--tenant", "acme", "--username", "alice"], None), "unknown user");
    }
}

/// AC4, S8: an operator lists a user's sessions and ends one of them (or all); an unknown
/// sid is refused and ends nothing; the ended session no longer signs anyone in.
#[actix_web::test]
async fn operators_list_and_end_a_users_sessions() {
    use crate::code_flow::{browser, location_params, login_for_code, param, spa, user};
    for db in databases() {
        let server = crate::oauth::server(&db).await;
        crate::oauth::tenant(&server, "acme");
        user(&server, "acme", "alice");
        let client = spa(&server, "acme", "Web App", true);
        let b = browser(&server);
        login_for_code(&server, &b, "acme", &client, "alice").await;
        let run = |args: &[&str]| gatehouse(&db, args, None);
        let listed = json_ok(&run(&["user", "sessions", "--tenant", "acme", "--username", "alice", "--json"]));
        let sessions = listed["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{db:?}: {listed}");
        let sid = sessions[0]["sid"].as_str().unwrap().to_owned();
        assert_eq!(sessions[0]["client_ip"], "127.0.0.1");
        refused(
            &run(&["user", "end-sessions", "--tenant", "acme", "--username", "alice", "--sid", "nope"]),
            "no live session",
        );
        // A sid may begin with '-' (base64url): still a value.
        refused(
            &run(&["user", "end-sessions", "--tenant", "acme", "--username", "alice", "--sid", "-zz"]),
            "no live session",
        );
        let res = b
            .get(crate::code_flow::authorize_url(&server, "acme", &client, &[("prompt", "none")]))
            .send()
            .await
            .unwrap();
        assert!(param(&location_params(&res).1, "code").is_some(), "{db:?}: still signed in");
        let ended = json_ok(&run(&[
            "user",
            "end-sessions",
            "--tenant",
            "acme",
            "--username",
            "alice",
            "--sid",
            &sid,
            "--json",
        ]));
        assert_eq!(ended["ended"], 1);
        let res = b
            .get(crate::code_flow::authorize_url(&server, "acme", &client, &[("prompt", "none")]))
            .send()
            .await
            .unwrap();
        assert_eq!(param(&location_params(&res).1, "error"), Some("login_required"), "{db:?}");
        let listed = json_ok(&run(&["user", "sessions", "--tenant", "acme", "--username", "alice", "--json"]));
        assert_eq!(listed["sessions"], serde_json::json!([]));
    }
}

/// O8, D1, IO1: upstream providers are added, listed, changed and removed; the client secret
/// is read from stdin, sealed at rest, never printed; bad input changes nothing.
#[test]
fn upstreams_are_managed_and_their_secret_is_sealed() {
    const SECRET: &str = "upstream-client-secret-4711";
    for db in databases() {
        create_acme(&db);
        let add = |extra: &[&str], stdin: Option<&str>| {
            let base = ["upstream", "add", "--tenant", "acme", "--name", "corp", "--json"];
            gatehouse(&db, &[&base[..], extra].concat(), stdin)
        };
        let records = audit_records(&db);
        let ok = ["--issuer", "https://idp.corp.example", "--client-id", "gatehouse", "--client-secret-stdin"];
        refused(&add(&["--issuer", "https://idp.corp.example"], None), "needs --issuer and --client-id");
        let no_secret = ["--issuer", "https://idp.corp.example", "--client-id", "g"];
        refused(&add(&no_secret, None), "needs --client-secret-stdin, or --auth private-key-jwt");
        refused(&add(&[&ok[..], &["--role-rule", "groups=x:tenant-admin"]].concat(), Some(SECRET)), "administrative");
        refused(&add(&[&ok[..], &["--auth", "mtls"]].concat(), Some(SECRET)), "auth must be");
        refused(
            &add(&["--issuer", "http://idp.corp.example", "--client-id", "g", "--client-secret-stdin"], Some(SECRET)),
            "issuer must be",
        );
        refused(&add(&[&ok[..], &["--scope", "profile email"]].concat(), Some(SECRET)), "must include openid");
        refused(&add(&[&ok[..], &["--link", "verified-email"]].concat(), Some(SECRET)), "trusted to verify");
        refused(&add(&[&ok[..], &["--link", "by-email"]].concat(), Some(SECRET)), "link must be");
        assert_eq!(audit_records(&db), records, "{db:?}: refusals change nothing");

        let out =
            add(&[&ok[..], &["--display-name", "Corp SSO", "--link", "after-local-sign-in"]].concat(), Some(SECRET));
        assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET), "the secret is never printed");
        let added = json_ok(&out);
        assert_eq!((added["has_secret"].as_bool(), added["link"].as_str()), (Some(true), Some("after-local-sign-in")));
        assert_eq!(added["scopes"], serde_json::json!(["email", "openid", "profile"]), "{db:?}: the default scopes");
        refused(&add(&ok, Some(SECRET)), "already exists");
        let hex =
            if db.url.starts_with("sqlite") { "hex(client_secret)" } else { "upper(encode(client_secret, 'hex'))" };
        let stored = db.query_text(&format!("SELECT {hex} AS row FROM upstreams"));
        let plain: String = SECRET.bytes().map(|b| format!("{b:02X}")).collect();
        assert!(!stored[0].contains(&plain) && stored[0].len() > plain.len(), "{db:?}: D1: sealed at rest");

        let update = [
            "upstream",
            "update",
            "--tenant",
            "acme",
            "--name",
            "corp",
            "--trust-email",
            "on",
            "--link",
            "verified-email",
            "--json",
        ];
        let changed = json_ok(&gatehouse(&db, &update, None));
        assert_eq!(
            (changed["link"].as_str(), changed["trusted_email"].as_bool()),
            (Some("verified-email"), Some(true))
        );
        assert_eq!(db.query_text(&format!("SELECT {hex} AS row FROM upstreams")), stored, "{db:?}: the secret stays");
        let list = json_ok(&gatehouse(&db, &["upstream", "list", "--tenant", "acme", "--json"], None));
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert!(!list.to_string().contains("secret\":\""), "{db:?}: no secret in the list");
        json_ok(&gatehouse(&db, &["upstream", "remove", "--tenant", "acme", "--name", "corp", "--json"], None));
        refused(
            &gatehouse(&db, &["upstream", "remove", "--tenant", "acme", "--name", "corp", "--json"], None),
            "unknown upstream",
        );
        assert_eq!(audit_records(&db), records + 3, "{db:?}: add, update, remove audited");
    }
}
