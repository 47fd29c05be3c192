//! Drives Debian's `chromium`, headless, over WebDriver (`chromedriver`, `fantoccini`).
//!
//! Each test gets its own `chromedriver` and a fresh browser profile. Where Chromium or its
//! driver is missing the test is skipped with one loud line, unless `GATEHOUSE_REQUIRE_BROWSER`
//! is set (CI sets it), which turns the skip into a failure. A failing test leaves a screenshot
//! and the page's URL under `$CARGO_TARGET_TMPDIR/browser-failures/`.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{Value, json};

/// Set to any value to make a missing browser a failure instead of a skip.
pub const REQUIRE_VAR: &str = "GATEHOUSE_REQUIRE_BROWSER";
/// How long a page may take to reach an expected state.
const PATIENCE: Duration = Duration::from_secs(15);

/// At most two browsers at once: a rendering Chromium keeps a core busy.
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The first of `names` on `PATH`, or the path in `env_var` when set.
fn find_program(env_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |n| dir.join(n))).find(|p| p.is_file())
}

/// A headless Chromium session; closed (with its driver) by [`with_browser`].
pub struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    _slot: tokio::sync::SemaphorePermit<'static>,
}

/// Chromium's browser log (console messages, CSP reports) through chromedriver.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// W3C WebAuthn §11.3 (WebDriver extension): adds a virtual authenticator to the session, a
/// platform passkey provider that keeps discoverable credentials and verifies its user.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/webauthn/authenticator", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "isUserConsenting": true,
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Starts `chromedriver` on a free port and waits until it says it listens.
fn start_driver(chromedriver: &PathBuf) -> (Child, u16) {
    use std::io::BufRead;
    let port = crate::support::free_port();
    let mut driver = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let stdout = driver.stdout.take().expect("chromedriver stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("started successfully") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).expect("chromedriver did not start");
    (driver, port)
}

impl Browser {
    /// A new headless Chromium that trusts the certificates whose SPKI pins are given, or
    /// `None` (after one loud line) when Chromium is not installed and not required.
    async fn launch(test: &str, spki_pins: &[String]) -> Option<Self> {
        let chromium = find_program("CHROME_BIN", &["chromium", "chromium-browser", "google-chrome"]);
        let chromedriver = find_program("CHROMEDRIVER", &["chromedriver"]);
        let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
            assert!(
                std::env::var_os(REQUIRE_VAR).is_none(),
                "{test}: chromium and chromedriver are required ({REQUIRE_VAR} is set): apt-get install chromium chromium-driver"
            );
            eprintln!(
                "SKIPPED browser test {test}: Debian's `chromium` and `chromium-driver` are not installed \
                 (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let slot = SLOTS.acquire().await.expect("the semaphore is never closed");
        let profile = tempfile::tempdir().expect("a profile directory");
        let (driver, port) = start_driver(&chromedriver);
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-extensions".to_owned(),
            "--password-store=basic".to_owned(),
            "--window-size=1024,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if !spki_pins.is_empty() {
            args.push(format!("--ignore-certificate-errors-spki-list={}", spki_pins.join(",")));
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with chromium");
        Some(Self { client, driver, _profile: profile, _slot: slot })
    }

    /// Loads `url` and waits for it.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The URL the browser is at.
    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("current URL")
    }

    /// Waits until an element matching `css` is on the page.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} on the page: {e}"))
    }

    /// Waits until the page's URL path is `path`.
    pub async fn wait_for_path(&self, path: &str) -> url::Url {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let url = self.url().await;
            if url.path() == path {
                return url;
            }
            assert!(tokio::time::Instant::now() < deadline, "the browser never reached {path}; it is at {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the text of `css` satisfies `ok`, and returns it.
    pub async fn wait_for_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let text = self.text(css).await;
            if ok(&text) {
                return text;
            }
            assert!(tokio::time::Instant::now() < deadline, "{css} never got the expected text; it says {text:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's heading is `expected` (a navigation may still be on its way).
    pub async fn heading(&self, expected: &str) {
        self.wait_for_text("h1", |t| t == expected).await;
    }

    /// The visible text of the first element matching `css` (waiting for it). An element of
    /// a page that navigation just replaced is looked up again.
    pub async fn text(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match self.wait_for(css).await.text().await {
                Ok(text) => return text,
                // A page that navigation replaced: Chromium says so in one of two ways.
                Err(e)
                    if tokio::time::Instant::now() < deadline && {
                        let e = format!("{e:?}");
                        e.contains("StaleElementReference") || e.contains("does not belong to the document")
                    } =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the text of {css}: {e}"),
            }
        }
    }

    /// The `value` of the input matching `css`.
    pub async fn value(&self, css: &str) -> String {
        self.wait_for(css).await.prop("value").await.expect("value").unwrap_or_default()
    }

    /// Types `text` into the input matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.wait_for(css).await;
        input.clear().await.expect("clear input");
        input.send_keys(text).await.expect("type into input");
    }

    /// Clicks the element matching `css` (a submit button waits for the navigation).
    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Whether an element matching `css` is on the page now.
    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Runs `script` in the page and returns its result.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("script runs")
    }

    /// Resizes the window (a phone is 390 × 844).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.expect("the window resizes");
    }

    /// Adds a virtual passkey authenticator (see [`AddVirtualAuthenticator`]).
    pub async fn add_virtual_authenticator(&self) {
        self.client.issue_cmd(AddVirtualAuthenticator).await.expect("chromedriver adds a virtual authenticator");
    }

    /// The browser's log messages so far that report a Content-Security-Policy violation.
    async fn csp_violations(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.expect("chromedriver returns the browser log");
        let Value::Array(entries) = log else { panic!("the browser log is a list: {log}") };
        entries
            .iter()
            .filter_map(|e| e.get("message").and_then(Value::as_str))
            .filter(|m| m.contains("Content Security Policy") || m.contains("Content-Security-Policy"))
            .map(str::to_owned)
            .collect()
    }

    /// A screenshot and the URL of the page, for a failed test.
    async fn save_failure(&self, test: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-failures");
        let _ = std::fs::create_dir_all(&dir);
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let png = dir.join(format!("{test}.png"));
        match self.client.screenshot().await {
            Ok(bytes) if std::fs::write(&png, &bytes).is_ok() => {
                eprintln!("{test}: browser at {url}; screenshot {}", png.display())
            }
            _ => eprintln!("{test}: browser at {url}; no screenshot"),
        }
    }

    async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Runs `body` with a fresh browser that trusts `spki_pins`; skips when no browser is
/// installed (see the module docs). Fails if the page reported a CSP violation, and saves a
/// screenshot when the test fails.
pub async fn with_browser(test: &str, spki_pins: &[String], body: impl AsyncFnOnce(&Browser)) {
    let Some(browser) = Browser::launch(test, spki_pins).await else { return };
    let outcome = AssertUnwindSafe(body(&browser)).catch_unwind().await;
    let violations = browser.csp_violations().await;
    if outcome.is_err() || !violations.is_empty() {
        browser.save_failure(test).await;
        for v in &violations {
            eprintln!("{test}: CSP violation: {v}");
        }
    }
    browser.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    assert!(violations.is_empty(), "{test}: the browser reported CSP violations: {violations:#?}");
}
