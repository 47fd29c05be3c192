//! Configuration (OP1): raw `Settings` from `gatehouse.toml` (unknown keys refused), then
//! `GATEHOUSE_*` environment overrides, then [`Config::from_settings`], which checks every rule
//! and reports every problem at once, each naming its key.

use std::net::SocketAddr;
use std::path::PathBuf;

use gatehouse_core::password::PasswordPolicy;
use gatehouse_store::DbUrl;
use serde::Deserialize;
use url::Url;

/// Development (generated certificate and master key allowed) or production (refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Development,
    Production,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The raw settings, one key per `GATEHOUSE_<KEY>` variable. Every field is optional here;
/// defaults and rules are applied in [`Config::from_settings`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub mode: Option<String>,
    pub data_dir: Option<String>,
    pub database_url: Option<String>,
    pub https_addr: Option<String>,
    pub http_addr: Option<String>,
    pub public_url: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub master_key_file: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub workers: Option<i64>,
    pub hsts_max_age: Option<i64>,
    pub max_body_bytes: Option<i64>,
    pub cache_ttl_secs: Option<i64>,
    pub outbox_poll_secs: Option<i64>,
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    pub smtp_ca_file: Option<String>,
    pub upstream_ca_file: Option<String>,
    pub tls_reload_secs: Option<i64>,
    pub login_attempts_per_minute: Option<i64>,
    pub token_requests_per_second: Option<i64>,
    pub login_failure_delay_ms: Option<i64>,
    pub trusted_proxies: Option<String>,
    pub metrics_token: Option<String>,
    pub alert_webhook_url: Option<String>,
    pub audit_retention_days: Option<i64>,
    pub password_min_length: Option<i64>,
    pub password_max_length: Option<i64>,
    pub password_min_classes: Option<i64>,
    pub argon2_memory_kib: Option<i64>,
    pub argon2_iterations: Option<i64>,
    pub argon2_parallelism: Option<i64>,
}

/// Whether a key holds an integer (for parsing its environment variable).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
}

/// Every key, with its type: the environment variable is `GATEHOUSE_` + the key upper-cased.
const KEYS: &[(&str, Kind)] = &[
    ("mode", Kind::Text),
    ("data_dir", Kind::Text),
    ("database_url", Kind::Text),
    ("https_addr", Kind::Text),
    ("http_addr", Kind::Text),
    ("public_url", Kind::Text),
    ("tls_cert", Kind::Text),
    ("tls_key", Kind::Text),
    ("master_key_file", Kind::Text),
    ("log_format", Kind::Text),
    ("log_level", Kind::Text),
    ("workers", Kind::Int),
    ("hsts_max_age", Kind::Int),
    ("max_body_bytes", Kind::Int),
    ("cache_ttl_secs", Kind::Int),
    ("outbox_poll_secs", Kind::Int),
    ("smtp_url", Kind::Text),
    ("smtp_from", Kind::Text),
    ("smtp_ca_file", Kind::Text),
    ("upstream_ca_file", Kind::Text),
    ("tls_reload_secs", Kind::Int),
    ("login_attempts_per_minute", Kind::Int),
    ("token_requests_per_second", Kind::Int),
    ("login_failure_delay_ms", Kind::Int),
    ("trusted_proxies", Kind::Text),
    ("metrics_token", Kind::Text),
    ("alert_webhook_url", Kind::Text),
    ("audit_retention_days", Kind::Int),
    ("password_min_length", Kind::Int),
    ("password_max_length", Kind::Int),
    ("password_min_classes", Kind::Int),
    ("argon2_memory_kib", Kind::Int),
    ("argon2_iterations", Kind::Int),
    ("argon2_parallelism", Kind::Int),
];

/// Variables with the prefix that are not configuration keys but are known.
const OTHER_VARS: &[&str] = &["GATEHOUSE_CONFIG", "GATEHOUSE_MASTER_KEY", "GATEHOUSE_LOG"];

/// The environment variable of a key.
pub fn env_name(key: &str) -> String {
    format!("GATEHOUSE_{}", key.to_ascii_uppercase())
}

/// Problems found while reading configuration; printed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid configuration:")?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Settings {
    /// Reads the TOML file (if any), then applies the environment `env` on top.
    pub fn load(file: Option<&std::path::Path>, env: &[(String, String)]) -> Result<Self, ConfigErrors> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigErrors(vec![format!("config file {}: {e}", path.display())]))?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigErrors(vec![format!("config file {}: {}", path.display(), e.message())]))?
            }
            None => toml::Table::new(),
        };
        let mut errors = Vec::new();
        for (key, kind) in KEYS {
            let var = env_name(key);
            let Some((_, value)) = env.iter().find(|(k, _)| *k == var) else { continue };
            let value = match kind {
                Kind::Text => toml::Value::String(value.clone()),
                Kind::Int => match value.trim().parse::<i64>() {
                    Ok(n) => toml::Value::Integer(n),
                    Err(_) => {
                        errors.push(format!("{var}: expected a whole number"));
                        continue;
                    }
                },
            };
            table.insert((*key).to_owned(), value);
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Settings::deserialize(table).map_err(|e| ConfigErrors(vec![format!("config: {}", e.message())]))
    }

    /// `GATEHOUSE_*` variables that name no key: likely typos, reported as warnings.
    pub fn unknown_env(env: &[(String, String)]) -> Vec<String> {
        env.iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("GATEHOUSE_") && !k.starts_with("GATEHOUSE_TEST_"))
            .filter(|k| !OTHER_VARS.contains(&k.as_str()) && !KEYS.iter().any(|(key, _)| env_name(key) == **k))
            .cloned()
            .collect()
    }
}

/// Where the TLS certificate comes from (T4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files named by the operator, reloaded when they change.
    Files { cert: PathBuf, key: PathBuf },
    /// A self-signed `localhost` certificate generated into the data directory (development).
    Generated,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub data_dir: PathBuf,
    pub database: DbUrl,
    pub https_addr: SocketAddr,
    /// `None` when the plain-HTTP redirect listener is switched off (`http_addr = ""`).
    pub http_addr: Option<SocketAddr>,
    /// The public base URL, without a trailing slash; issuers hang below it.
    pub public_url: String,
    pub tls: TlsSource,
    pub master_key_file: PathBuf,
    pub log_format: LogFormat,
    pub log_level: String,
    pub workers: usize,
    pub hsts_max_age: u64,
    pub max_body_bytes: usize,
    /// How long tenants, clients and keys are cached before the database is asked again.
    pub cache_ttl: std::time::Duration,
    /// S6 and mail: how often the outboxes are looked at for what the CLI or another node
    /// queued (what this node queues goes out at once).
    pub outbox_poll: std::time::Duration,
    /// Where mail goes.
    pub mail: crate::mail::MailConfig,
    /// T4: how often the certificate files are checked for changes.
    pub tls_reload: std::time::Duration,
    /// A4: sign-in attempts per client IP and minute (0 = no limit).
    pub login_attempts_per_minute: u32,
    /// A4: token requests per client IP and second (0 = no limit).
    pub token_requests_per_second: u32,
    /// A4: delay of the first failed sign-in in a row, doubling per further failure (0 = none).
    pub login_failure_delay: std::time::Duration,
    /// T5: proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// L4: the bearer token `GET /metrics` requires; without one the endpoint does not exist.
    pub metrics_token: Option<gatehouse_types::Secret<String>>,
    /// L4: where intrusion signals are POSTed (none: alerts only as metrics).
    pub alert_webhook_url: Option<Url>,
    /// O8: PEM certificates to trust for upstream providers besides the system's roots.
    pub upstream_ca_file: Option<PathBuf>,
    /// L3: audit records older than this many days are pruned (0 = kept for ever).
    pub audit_retention_days: u32,
    pub password_policy: PasswordPolicy,
    pub argon2: (u32, u32, u32),
}

/// Collects problems while building a `Config`.
struct Check(Vec<String>);

impl Check {
    fn fail(&mut self, key: &str, msg: impl std::fmt::Display) {
        self.0.push(format!("{} ({key}): {msg}", env_name(key)));
    }

    fn addr(&mut self, key: &str, value: Option<&str>, default: &str) -> Option<SocketAddr> {
        let v = value.unwrap_or(default);
        v.parse().map_err(|_| self.fail(key, "expected an address like 127.0.0.1:8443")).ok()
    }

    fn range(&mut self, key: &str, value: Option<i64>, default: i64, min: i64, max: i64) -> i64 {
        let v = value.unwrap_or(default);
        if v < min || v > max {
            self.fail(key, format!("must be between {min} and {max}"));
            return default;
        }
        v
    }
}

/// T5: comma-separated addresses or CIDR ranges; a bare address is a single-host range.
fn parse_proxies(c: &mut Check, value: &str) -> Vec<ipnet::IpNet> {
    let mut nets = Vec::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.parse::<ipnet::IpNet>().or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)) {
            Ok(net) => nets.push(net),
            Err(_) => c.fail("trusted_proxies", format!("{item:?} is not an IP address or CIDR range")),
        }
    }
    nets
}

/// OP1: the public URL is an absolute https URL with no query or fragment.
fn check_public_url(c: &mut Check, value: &str) -> String {
    match Url::parse(value) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() && u.query().is_none() && u.fragment().is_none() => {
            value.trim_end_matches('/').to_owned()
        }
        Ok(_) => {
            c.fail("public_url", "must be an https:// URL without query or fragment");
            String::new()
        }
        Err(_) => {
            c.fail("public_url", "must be an absolute https:// URL");
            String::new()
        }
    }
}

impl Config {
    /// Applies defaults and checks every rule; all problems are reported together.
    pub fn from_settings(s: Settings) -> Result<Self, ConfigErrors> {
        let mut c = Check(Vec::new());
        let mode = match s.mode.as_deref().unwrap_or("development") {
            "development" => Mode::Development,
            "production" => Mode::Production,
            _ => {
                c.fail("mode", "must be 'development' or 'production'");
                Mode::Production
            }
        };
        let data_dir = PathBuf::from(s.data_dir.as_deref().unwrap_or("./gatehouse-data"));
        let default_db = format!("sqlite://{}", data_dir.join("gatehouse.db").display());
        let database =
            DbUrl::parse(s.database_url.as_deref().unwrap_or(&default_db)).map_err(|e| c.fail("database_url", e)).ok();
        let https_addr = c.addr("https_addr", s.https_addr.as_deref(), "127.0.0.1:8443");
        let http_addr = match s.http_addr.as_deref() {
            Some("") => None,
            other => c.addr("http_addr", other, "127.0.0.1:8080"),
        };
        let public_url = check_public_url(&mut c, s.public_url.as_deref().unwrap_or("https://localhost:8443"));
        let tls = match (s.tls_cert, s.tls_key) {
            (Some(cert), Some(key)) => TlsSource::Files { cert: cert.into(), key: key.into() },
            (None, None) if mode == Mode::Production => {
                c.fail(
                    "tls_cert",
                    "production mode needs a certificate and key (tls_cert, tls_key); it refuses a generated one",
                );
                TlsSource::Generated
            }
            (None, None) => TlsSource::Generated,
            (Some(_), None) => {
                c.fail("tls_key", "tls_cert is set but tls_key is not");
                TlsSource::Generated
            }
            (None, Some(_)) => {
                c.fail("tls_cert", "tls_key is set but tls_cert is not");
                TlsSource::Generated
            }
        };
        let master_key_file = s.master_key_file.map(PathBuf::from).unwrap_or_else(|| data_dir.join("master.key"));
        let log_format = match s.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => {
                c.fail("log_format", "must be 'text' or 'json'");
                LogFormat::Text
            }
        };
        let log_level = s.log_level.unwrap_or_else(|| "info".to_owned());
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            c.fail("log_level", "must be a level (error, warn, info, debug, trace) or a tracing filter");
        }
        let workers = c.range("workers", s.workers, 0, 0, 256) as usize;
        let hsts_max_age = c.range("hsts_max_age", s.hsts_max_age, 31_536_000, 0, 63_072_000) as u64;
        let max_body_bytes = c.range("max_body_bytes", s.max_body_bytes, 64 * 1024, 1024, 16 * 1024 * 1024) as usize;
        let cache_ttl = std::time::Duration::from_secs(c.range("cache_ttl_secs", s.cache_ttl_secs, 10, 0, 3600) as u64);
        let outbox_poll =
            std::time::Duration::from_secs(c.range("outbox_poll_secs", s.outbox_poll_secs, 5, 1, 300) as u64);
        let mail = crate::mail::settings::parse(
            s.smtp_url.as_deref(),
            s.smtp_from.as_deref(),
            s.smtp_ca_file.as_deref(),
            &data_dir,
            mode == Mode::Production,
        )
        .map_err(|errors| errors.into_iter().for_each(|(key, e)| c.fail(key, e)))
        .ok();
        let tls_reload =
            std::time::Duration::from_secs(c.range("tls_reload_secs", s.tls_reload_secs, 10, 1, 3600) as u64);
        let login_attempts_per_minute =
            c.range("login_attempts_per_minute", s.login_attempts_per_minute, 30, 0, 100_000) as u32;
        let token_requests_per_second =
            c.range("token_requests_per_second", s.token_requests_per_second, 300, 0, 10_000_000) as u32;
        let login_failure_delay =
            std::time::Duration::from_millis(
                c.range("login_failure_delay_ms", s.login_failure_delay_ms, 250, 0, 2000) as u64
            );
        let trusted_proxies = parse_proxies(&mut c, s.trusted_proxies.as_deref().unwrap_or(""));
        let metrics_token = s.metrics_token.filter(|t| !t.is_empty()).map(gatehouse_types::Secret::new);
        let upstream_ca_file = s.upstream_ca_file.filter(|f| !f.is_empty()).map(PathBuf::from);
        if let Some(path) = &upstream_ca_file
            && !path.is_file()
        {
            c.fail("upstream_ca_file", "must name a readable PEM file");
        }
        let alert_webhook_url = match s.alert_webhook_url.as_deref().filter(|u| !u.is_empty()).map(Url::parse) {
            None => None,
            Some(Ok(u)) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Some(u),
            Some(_) => {
                c.fail("alert_webhook_url", "must be an absolute https:// (or http://) URL");
                None
            }
        };
        if metrics_token.as_ref().is_some_and(|t| t.expose().len() < 32) {
            c.fail("metrics_token", "must be at least 32 characters (e.g. openssl rand -base64 32)");
        }
        let audit_retention_days = c.range("audit_retention_days", s.audit_retention_days, 120, 0, 36_500) as u32;
        let min_length = c.range("password_min_length", s.password_min_length, 12, 8, 128) as usize;
        let max_length = c.range("password_max_length", s.password_max_length, 128, 128, 1024) as usize;
        let min_classes = c.range("password_min_classes", s.password_min_classes, 0, 0, 4) as u8;
        let argon2 = (
            c.range("argon2_memory_kib", s.argon2_memory_kib, 19_456, 8 * 1024, 1024 * 1024) as u32,
            c.range("argon2_iterations", s.argon2_iterations, 2, 1, 10) as u32,
            c.range("argon2_parallelism", s.argon2_parallelism, 1, 1, 8) as u32,
        );
        match (c.0.is_empty(), database, https_addr, mail) {
            (true, Some(database), Some(https_addr), Some(mail)) => Ok(Self {
                mode,
                data_dir,
                database,
                https_addr,
                http_addr,
                public_url,
                tls,
                master_key_file,
                log_format,
                log_level,
                workers,
                hsts_max_age,
                max_body_bytes,
                cache_ttl,
                outbox_poll,
                mail,
                tls_reload,
                login_attempts_per_minute,
                token_requests_per_second,
                login_failure_delay,
                trusted_proxies,
                metrics_token,
                alert_webhook_url,
                upstream_ca_file,
                audit_retention_days,
                password_policy: PasswordPolicy { min_length, max_length, min_classes },
                argon2,
            }),
            _ => Err(ConfigErrors(c.0)),
        }
    }

    /// Reads the file named by `--config` or `GATEHOUSE_CONFIG`, then the process environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigErrors> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let from_env = env.iter().find(|(k, _)| k == "GATEHOUSE_CONFIG").map(|(_, v)| PathBuf::from(v));
        let file = file.map(PathBuf::from).or(from_env);
        Self::from_settings(Settings::load(file.as_deref(), &env)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults() {
        let c = Config::from_settings(Settings::default()).unwrap();
        assert_eq!(c.mode, Mode::Development);
        assert_eq!(c.https_addr, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(c.http_addr, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(c.public_url, "https://localhost:8443");
        assert_eq!(c.tls, TlsSource::Generated);
        assert_eq!(c.database, DbUrl::parse("sqlite://./gatehouse-data/gatehouse.db").unwrap());
        assert_eq!(c.password_policy, PasswordPolicy::default());
    }

    #[test]
    fn environment_overrides_and_errors_name_keys() {
        let s =
            Settings::load(None, &env(&[("GATEHOUSE_HTTPS_ADDR", "0.0.0.0:443"), ("GATEHOUSE_WORKERS", "4")])).unwrap();
        let c = Config::from_settings(s).unwrap();
        assert_eq!(c.https_addr.port(), 443);
        assert_eq!(c.workers, 4);

        let err = Settings::load(None, &env(&[("GATEHOUSE_WORKERS", "four")])).unwrap_err();
        assert_eq!(err.0, vec!["GATEHOUSE_WORKERS: expected a whole number"]);

        let s = Settings::load(
            None,
            &env(&[
                ("GATEHOUSE_PUBLIC_URL", "http://id.example.com"),
                ("GATEHOUSE_DATABASE_URL", "mysql://x"),
                ("GATEHOUSE_HTTPS_ADDR", "nowhere"),
            ]),
        )
        .unwrap();
        let errs = Config::from_settings(s).unwrap_err().0;
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with("GATEHOUSE_DATABASE_URL (database_url)"), "{errs:?}");
        assert!(errs[1].starts_with("GATEHOUSE_HTTPS_ADDR (https_addr)"), "{errs:?}");
        assert!(errs[2].starts_with("GATEHOUSE_PUBLIC_URL (public_url)"), "{errs:?}");
    }

    #[test]
    fn trusted_proxies_and_rate_limits() {
        let c = Config::from_settings(Settings::default()).unwrap();
        assert!(c.trusted_proxies.is_empty(), "T5: no proxy is trusted unless named");
        assert_eq!((c.login_attempts_per_minute, c.token_requests_per_second), (30, 300));
        let s = Settings::load(None, &env(&[("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7 ,2001:db8::/32")]));
        let c = Config::from_settings(s.unwrap()).unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(c.trusted_proxies[1].contains(&"192.0.2.7".parse::<std::net::IpAddr>().unwrap()));
        let s = Settings::load(None, &env(&[("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local")])).unwrap();
        let errs = Config::from_settings(s).unwrap_err().0;
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("GATEHOUSE_TRUSTED_PROXIES") && errs[0].contains("proxy.local"), "{errs:?}");
        let s = Settings::load(None, &env(&[("GATEHOUSE_METRICS_TOKEN", "short")])).unwrap();
        let errs = Config::from_settings(s).unwrap_err().0;
        assert!(errs[0].starts_with("GATEHOUSE_METRICS_TOKEN") && !errs[0].contains("short"), "{errs:?}");
        let s = Settings::load(None, &env(&[("GATEHOUSE_ALERT_WEBHOOK_URL", "ftp://alerts.example")])).unwrap();
        let errs = Config::from_settings(s).unwrap_err().0;
        assert!(errs[0].starts_with("GATEHOUSE_ALERT_WEBHOOK_URL"), "{errs:?}");
    }

    #[test]
    fn production_refuses_generated_certificate() {
        let s = Settings::load(None, &env(&[("GATEHOUSE_MODE", "production")])).unwrap();
        let errs = Config::from_settings(s).unwrap_err().0;
        assert!(errs.iter().any(|e| e.contains("tls_cert") && e.contains("production")), "{errs:?}");
    }

    #[test]
    fn unknown_keys_are_refused_and_unknown_variables_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.toml");
        std::fs::write(&file, "https_adr = \"127.0.0.1:1\"\n").unwrap();
        let err = Settings::load(Some(&file), &[]).unwrap_err();
        assert!(err.0[0].contains("https_adr"), "{err}");
        let unknown = Settings::unknown_env(&env(&[
            ("GATEHOUSE_HTTPS_ADR", "x"),
            ("GATEHOUSE_MODE", "x"),
            ("GATEHOUSE_TEST_POSTGRES_URL", "x"),
        ]));
        assert_eq!(unknown, vec!["GATEHOUSE_HTTPS_ADR"]);
    }

    #[test]
    fn example_file_parses_and_validates() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../gatehouse.example.toml");
        let s = Settings::load(Some(&file), &[]).unwrap();
        Config::from_settings(s).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        for (key, _) in KEYS {
            assert!(text.contains(&format!("{key} =")), "gatehouse.example.toml documents {key}");
        }
    }
}
