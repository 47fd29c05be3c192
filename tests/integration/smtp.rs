//! A real SMTP server for the tests: Python's `aiosmtpd` (Debian's `python3-aiosmtpd`),
//! requiring STARTTLS with a certificate made here, storing what it receives in a Maildir.
//! Without it the mail tests skip with one line, unless `GATEHOUSE_REQUIRE_BROWSER` is set
//! (CI installs it), which makes that a failure.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The running server; stopped when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
    seen: std::cell::RefCell<Vec<PathBuf>>,
}

/// A Python with aiosmtpd: Debian's first (the machine may put another one first on PATH).
fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p).args(["-c", "import aiosmtpd"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    })
}

impl SmtpServer {
    /// Starts the server, or `None` after one loud line when aiosmtpd is missing.
    pub fn start(test: &str) -> Option<Self> {
        let Some(python) = python() else {
            assert!(
                std::env::var_os(crate::browser::REQUIRE_VAR).is_none(),
                "{test}: python3-aiosmtpd is required: apt-get install python3-aiosmtpd"
            );
            eprintln!("SKIPPED mail test {test}: Debian's python3-aiosmtpd is not installed");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = crate::support::write_cert(dir.path(), "smtp");
        let port = crate::support::free_port();
        let maildir = dir.path().join("maildir");
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .arg("--tlscert")
            .arg(&cert)
            .arg("--tlskey")
            .arg(&key)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self { child, port, dir, seen: Default::default() })
    }

    /// The settings that send Gatehouse's mail here over STARTTLS, trusting its certificate.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("GATEHOUSE_SMTP_URL".into(), format!("smtp://localhost:{}", self.port)),
            ("GATEHOUSE_SMTP_CA_FILE".into(), self.dir.path().join("cert.pem").display().to_string()),
            ("GATEHOUSE_SMTP_FROM".into(), "Gatehouse <id@example.com>".into()),
            ("GATEHOUSE_OUTBOX_POLL_SECS".into(), "1".into()),
        ]
    }

    /// The next message received (raw, as stored), waiting up to 20 s for it.
    pub async fn next(&self) -> String {
        let new = self.dir.path().join("maildir").join("new");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
            if let Some(path) = files.into_iter().find(|p| !self.seen.borrow().contains(p)) {
                self.seen.borrow_mut().push(path.clone());
                return std::fs::read_to_string(path).unwrap();
            }
            assert!(tokio::time::Instant::now() < deadline, "no mail arrived");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many messages arrived so far.
    pub fn count(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("maildir").join("new")).map(|d| d.count()).unwrap_or(0)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes quoted-printable text (RFC 2045 §6.7): soft line breaks and `=XX` escapes.
fn unquote(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten();
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The subject and the link (to `path` under some issuer, with its token) of a message.
pub fn link_in(message: &str, path: &str) -> (String, String) {
    let text = unquote(message);
    let subject = text.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or_default().to_owned();
    let start = text.find(&format!("{path}?token=")).unwrap_or_else(|| panic!("no {path} link in {text}"));
    let begin = text[..start].rfind("https://").unwrap();
    let end = text[start..].find(|c: char| c.is_whitespace() || c == '"' || c == '<').map_or(text.len(), |e| start + e);
    (subject, text[begin..end].to_owned())
}

/// The recipient of a message.
pub fn recipient(message: &str) -> String {
    message.lines().find_map(|l| l.strip_prefix("To: ")).unwrap_or_default().trim().to_owned()
}
