//! The React SPA example (`tests/e2e/spa/`) end to end: built with its committed lockfile,
//! served on its own origin, signing in with `oidc-client-ts` against the running binary,
//! and calling the guard's `reports_api` example, which answers only for a token with the
//! right audience, scope and role.

use std::path::{Path, PathBuf};
use std::process::Command;

use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_guard::{Guard, GuardConfig};

use super::harness::{REQUIRE_VAR, with_browser};
use super::sign_in::{Site, sign_in};
use crate::code_flow::PASSWORD;

#[allow(dead_code)]
#[path = "../../../crates/gatehouse-guard/examples/reports_api.rs"]
mod reports_api;

fn spa_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/spa")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the SPA into the target directory (`npm ci` only when `node_modules` is older than
/// the lockfile); `None` after one loud line when npm is missing and no browser is required.
fn build_spa() -> Option<PathBuf> {
    let dir = spa_dir();
    if Command::new("npm").arg("--version").output().is_err() {
        assert!(std::env::var_os(REQUIRE_VAR).is_none(), "npm is required ({REQUIRE_VAR} is set): apt-get install npm");
        eprintln!("SKIPPED the SPA browser test: Node.js and npm are not installed (apt-get install nodejs npm)");
        return None;
    }
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    if installed.is_none() || installed < modified(dir.join("package-lock.json")) {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir));
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("spa-dist-{}", std::process::id()));
    let out_arg = out.display().to_string();
    run(Command::new("npm").args(["run", "build", "--", "--outDir", &out_arg, "--emptyOutDir"]).current_dir(&dir));
    Some(out)
}

/// Serves the built SPA at `http://localhost:{port}`: its files, `/config.json`, and
/// `index.html` for every other path (the app routes `/callback` and `/signed-out` itself).
fn serve_spa(listener: std::net::TcpListener, dist: PathBuf, config: String) -> actix_web::dev::ServerHandle {
    let server = actix_web::HttpServer::new(move || {
        let (dist, config) = (dist.clone(), config.clone());
        actix_web::App::new().default_service(web::to(move |req: HttpRequest| {
            let (dist, config) = (dist.clone(), config.clone());
            async move {
                let path = req.path();
                if path == "/config.json" {
                    return HttpResponse::Ok().content_type("application/json").body(config);
                }
                let file = dist.join(path.trim_start_matches('/'));
                let (file, ct) = match file.extension().and_then(|e| e.to_str()) {
                    Some("js") if !path.contains("..") => (file, "text/javascript"),
                    Some("css") if !path.contains("..") => (file, "text/css"),
                    _ => (dist.join("index.html"), "text/html; charset=utf-8"),
                };
                match std::fs::read(&file) {
                    Ok(body) => HttpResponse::Ok().content_type(ct).body(body),
                    Err(_) => HttpResponse::NotFound().finish(),
                }
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    handle
}

#[actix_web::test]
async fn the_react_spa_signs_in_calls_the_api_renews_and_signs_out() {
    let Some(dist) = build_spa() else { return };
    let site = Site::start().await;
    site.user("vera", &["reports-viewer"]);
    site.user("bob", &[]);
    let spa_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let spa = format!("http://localhost:{}", spa_listener.local_addr().unwrap().port());
    let api = format!("http://localhost:{}", api_listener.local_addr().unwrap().port());
    let (callback, signed_out) = (format!("{spa}/callback"), format!("{spa}/signed-out"));
    let created = site.cli(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Reports SPA",
            "--type",
            "public",
            "--redirect-uri",
            &callback,
            "--post-logout-redirect-uri",
            &signed_out,
            "--web-origin",
            &spa,
            "--grant",
            "authorization_code",
            "refresh_token",
            "--scope",
            "openid profile offline_access reports:read",
            "--audience",
            &api,
            "--first-party",
            "--json",
        ],
        None,
    );
    let client_id = created["client_id"].as_str().unwrap();

    // The API exactly as `cargo run -p gatehouse-guard --example reports_api` runs it.
    let http = reports_api::http_client(Some(&site.gh.cert_path().display().to_string())).unwrap();
    let guard = Guard::discover(GuardConfig::new(site.issuer(), [api.clone()]), http).await.unwrap();
    let api_server = reports_api::serve(api_listener, guard, vec![spa.clone()]).unwrap();
    let api_handle = api_server.handle();
    actix_web::rt::spawn(api_server);
    let config = serde_json::json!({
        "issuer": site.issuer(), "clientId": client_id, "apiUrl": api, "scope": "openid profile offline_access reports:read",
    });
    let spa_handle = serve_spa(spa_listener, dist, config.to_string());

    with_browser("react_spa", &site.pins(), async |b| {
        b.goto(&spa).await;
        b.click("#signin").await;
        sign_in(b, "vera", PASSWORD).await;
        assert_eq!(b.text("#name").await, "vera");
        assert_eq!(b.text("#roles").await, "reports-viewer");
        // Tokens live in memory only: nothing of the user in web storage.
        let stored = b.eval("return JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage)])").await;
        assert_eq!(stored, "[[],[]]", "no tokens in web storage");

        b.click("#call-api").await;
        b.wait_for_text("#api-call", |t| t == "1").await;
        assert_eq!(b.text("#api-status").await, "200");
        assert!(b.text("#api-result").await.contains("revenue"));

        // Renewal with the rotating refresh token: a new access token that the API accepts.
        let first = b.text("#token-id").await;
        b.click("#renew").await;
        b.wait_for_text("#renewals", |t| t == "1").await;
        assert_ne!(b.text("#token-id").await, first, "a new access token");
        b.click("#call-api").await;
        b.wait_for_text("#api-call", |t| t == "2").await;
        assert_eq!(b.text("#api-status").await, "200");

        // Sign-out ends the Gatehouse session (the id_token_hint names it) and comes back.
        b.click("#signout").await;
        b.wait_for("#signed-out").await;
        b.click("#signin").await;
        sign_in(b, "bob", PASSWORD).await;
        assert_eq!(b.text("#name").await, "bob");
        assert_eq!(b.text("#roles").await, "none");
        b.click("#call-api").await;
        b.wait_for_text("#api-call", |t| t == "1").await;
        assert_eq!(b.text("#api-status").await, "403");
        assert!(b.text("#api-result").await.contains("Forbidden"));
    })
    .await;
    drop(api_handle.stop(false));
    drop(spa_handle.stop(false));
}
