//! Test support: start a real server in-process, build clients that trust its certificate,
//! and run the `gatehouse` binary against the same database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use gatehouse_server::config::{Config, Settings};
use gatehouse_server::{ExtraRoutes, Running};
use gatehouse_testkit::TestDatabase;

/// The public URL every test server is configured with.
pub const PUBLIC_URL: &str = "https://localhost:8443";

/// Configuration for a test server on free ports, its data in the database's directory.
pub fn config(db: &TestDatabase, extra_env: &[(&str, &str)]) -> Config {
    let data_dir = db.dir.path().display().to_string();
    let mut env = vec![
        ("GATEHOUSE_DATA_DIR".to_owned(), data_dir),
        ("GATEHOUSE_DATABASE_URL".to_owned(), db.url.clone()),
        ("GATEHOUSE_HTTPS_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ("GATEHOUSE_HTTP_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ("GATEHOUSE_PUBLIC_URL".to_owned(), PUBLIC_URL.to_owned()),
        ("GATEHOUSE_WORKERS".to_owned(), "1".to_owned()),
        ("GATEHOUSE_MAX_BODY_BYTES".to_owned(), "4096".to_owned()),
        // A4's progressive delay would make every failed sign-in in the tests wait; the tests
        // that need it set their own (the delays themselves are unit-tested in core).
        ("GATEHOUSE_LOGIN_FAILURE_DELAY_MS".to_owned(), "0".to_owned()),
    ];
    // A test's own value replaces the default (the first occurrence of a variable counts).
    env.retain(|(k, _)| !extra_env.iter().any(|(e, _)| e == k));
    env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_settings(Settings::load(None, &env).unwrap()).unwrap()
}

/// A running server with a client that trusts its certificate.
pub struct TestServer {
    pub running: Running,
    pub client: reqwest::Client,
    pub base: String,
    pub cert_pem: Vec<u8>,
}

impl TestServer {
    pub async fn start(db: &TestDatabase, extra: Option<ExtraRoutes>) -> Self {
        Self::start_with(config(db, &[]), extra).await
    }

    pub async fn start_with(config: Config, extra: Option<ExtraRoutes>) -> Self {
        let cert_path = match &config.tls {
            gatehouse_server::config::TlsSource::Files { cert, .. } => cert.clone(),
            gatehouse_server::config::TlsSource::Generated => gatehouse_server::tls::dev_paths(&config.data_dir).0,
        };
        let running = gatehouse_server::start(config, extra).await.unwrap();
        let cert_pem = std::fs::read(&cert_path).unwrap();
        let client = https_client(&cert_pem);
        let base = format!("https://localhost:{}", running.https_addr.port());
        Self { running, client, base, cert_pem }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.running.shutdown();
    }
}

/// A client that trusts only the given certificate.
pub fn https_client(cert_pem: &[u8]) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(cert_pem).unwrap();
    reqwest::Client::builder().tls_certs_only([cert]).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The `gatehouse` binary run against `db`, with only our GATEHOUSE_ variables set.
pub fn gatehouse(db: &TestDatabase, args: &[&str], stdin: Option<&str>) -> Output {
    gatehouse_in(db.dir.path(), &db.url, args, stdin, &[])
}

pub fn gatehouse_in(data_dir: &Path, url: &str, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    for (k, _) in std::env::vars() {
        if k.starts_with("GATEHOUSE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("GATEHOUSE_DATA_DIR", data_dir)
        .env("GATEHOUSE_DATABASE_URL", url)
        .env("GATEHOUSE_PUBLIC_URL", PUBLIC_URL)
        .envs(env.iter().copied())
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Parses a successful `--json` run's stdout as exactly one JSON object.
pub fn json_ok(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "one line of JSON: {stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v.is_object(), "{v}");
    v
}

/// Asserts a refused run: non-zero exit, nothing on stdout, one `error:` line naming `needle`.
pub fn refused(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "no output on stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains(needle), "stderr should mention {needle:?}: {stderr}");
}

/// Writes a self-signed certificate for localhost with `cn` as its common name.
pub fn write_cert(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

/// The real `gatehouse serve` process on a free port, killed when dropped.
pub struct BinaryServer {
    child: std::process::Child,
    pub base: String,
    pub env: Vec<(String, String)>,
    pub cert_pem: Vec<u8>,
    data_dir: PathBuf,
    /// Every line the server logged so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl BinaryServer {
    /// Starts the binary on `data_dir` and returns once it logs that it listens.
    pub fn start(data_dir: &Path, db_url: &str) -> Self {
        Self::start_with(data_dir, db_url, &[])
    }

    /// As [`BinaryServer::start`], with more `GATEHOUSE_*` settings.
    pub fn start_with(data_dir: &Path, db_url: &str, extra_env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let port = free_port();
        let base = format!("https://localhost:{port}");
        let mut env: Vec<(String, String)> = vec![
            ("GATEHOUSE_HTTPS_ADDR".into(), format!("127.0.0.1:{port}")),
            ("GATEHOUSE_HTTP_ADDR".into(), String::new()),
            ("GATEHOUSE_PUBLIC_URL".into(), base.clone()),
            ("GATEHOUSE_WORKERS".into(), "1".into()),
        ];
        env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        for (k, _) in std::env::vars() {
            if k.starts_with("GATEHOUSE_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd
            .env("GATEHOUSE_DATA_DIR", data_dir)
            .env("GATEHOUSE_DATABASE_URL", db_url)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read the log until the server listens, then keep collecting it in the background.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("gatehouse listening") {
                    let _ = ready_tx.send(());
                }
                sink.lock().unwrap().push(line);
            }
        });
        ready_rx.recv_timeout(std::time::Duration::from_secs(60)).expect("gatehouse serve did not start");
        let cert_pem = std::fs::read(gatehouse_server::tls::dev_paths(data_dir).0).unwrap();
        Self { child, base, env, cert_pem, data_dir: data_dir.to_owned(), log }
    }

    /// The server's log lines that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.log.lock().unwrap().iter().filter(|l| l.contains(needle)).cloned().collect()
    }

    /// The base64 SHA-256 of the server certificate's public key (SubjectPublicKeyInfo), as
    /// Chromium's `--ignore-certificate-errors-spki-list` takes it: the browser then trusts
    /// this one development certificate and nothing else that is self-signed.
    pub fn spki_pin(&self) -> String {
        use base64::Engine;
        use rcgen::PublicKeyData;
        let key_pem = std::fs::read_to_string(gatehouse_server::tls::dev_paths(&self.data_dir).1).unwrap();
        let spki = rcgen::KeyPair::from_pem(&key_pem).unwrap().subject_public_key_info();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki);
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    }

    /// The path of the development certificate the server serves.
    pub fn cert_path(&self) -> PathBuf {
        gatehouse_server::tls::dev_paths(&self.data_dir).0
    }

    /// `gatehouse` CLI against this server's data directory and database, printing JSON.
    pub fn cli_json(&self, db_url: &str, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        json_ok(&self.cli(&self.data_dir, db_url, args, stdin))
    }

    /// The CLI against the same data directory and database, while the server runs.
    pub fn cli(&self, data_dir: &Path, db_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        gatehouse_in(data_dir, db_url, args, stdin, &env)
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
