//! TLS (T1, T4): rustls on aws-lc-rs, TLS 1.3 and 1.2 only, AEAD suites only (the provider's
//! defaults), session tickets on for resumption. The certificate is served through a resolver
//! that swaps in new PEM files when they change, without a restart.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{Config, TlsSource};

/// The tree's one crypto provider.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The current certificate, re-read from its files when they change (T4).
#[derive(Debug)]
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    stamp: Mutex<Option<(SystemTime, SystemTime)>>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Parses a PEM chain and key, and checks that the key belongs to the certificate.
fn read_pair(cert_path: &Path, key_path: &Path) -> anyhow::Result<CertifiedKey> {
    let cert_pem = std::fs::read(cert_path).with_context(|| format!("reading {}", cert_path.display()))?;
    let key_pem = std::fs::read(key_path).with_context(|| format!("reading {}", key_path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a PEM certificate chain", cert_path.display()))?;
    if certs.is_empty() {
        bail!("{}: no certificate found", cert_path.display());
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .with_context(|| format!("{}: not a PEM private key", key_path.display()))?;
    CertifiedKey::from_der(certs, key, &provider())
        .with_context(|| format!("{}: key does not match the certificate", key_path.display()))
}

impl CertStore {
    /// Loads the pair now; fails if either file is missing or they do not match.
    pub fn load(cert_path: &Path, key_path: &Path) -> anyhow::Result<Arc<Self>> {
        let key = read_pair(cert_path, key_path)?;
        Ok(Arc::new(Self {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            current: RwLock::new(Arc::new(key)),
            stamp: Mutex::new(modified(cert_path).zip(modified(key_path))),
        }))
    }

    /// Re-reads the files if their modification times changed. A broken new pair is logged and
    /// the old certificate kept: a half-written renewal must not take the server down.
    pub fn reload_if_changed(&self) -> bool {
        let now = modified(&self.cert_path).zip(modified(&self.key_path));
        let Ok(mut stamp) = self.stamp.lock() else { return false };
        if now.is_none() || *stamp == now {
            return false;
        }
        match read_pair(&self.cert_path, &self.key_path) {
            Ok(key) => {
                if let Ok(mut current) = self.current.write() {
                    *current = Arc::new(key);
                }
                *stamp = now;
                tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "TLS certificate changed but cannot be loaded; keeping the old one");
                false
            }
        }
    }

    /// Checks for changed files in a background thread for the life of the process.
    pub fn watch(self: &Arc<Self>, every: Duration) {
        let store = Arc::downgrade(self);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(every);
                match store.upgrade() {
                    Some(s) => {
                        s.reload_if_changed();
                    }
                    None => return,
                }
            }
        });
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|k| Arc::clone(&k))
    }
}

/// T1: TLS 1.3 and 1.2 only; the aws-lc-rs default suites, which are all AEAD.
pub fn server_config(certs: Arc<CertStore>) -> anyhow::Result<ServerConfig> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    // A full handshake costs ~30x a resumed one: let clients resume.
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    Ok(config)
}

/// Paths of the development certificate in the data directory.
pub fn dev_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("dev-cert.pem"), dir.join("dev-key.pem"))
}

/// T4: a self-signed certificate for localhost, 127.0.0.1 and ::1, made once.
fn generate_dev_cert(cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = cert_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names).context("generating the development certificate")?;
    let mut key_file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(key_path)?;
    key_file.write_all(generated.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, generated.cert.pem())?;
    Ok(())
}

/// The certificate store for `config`: the operator's files, or the development certificate
/// (generated on first use, its path printed).
pub fn cert_store(config: &Config) -> anyhow::Result<Arc<CertStore>> {
    match &config.tls {
        TlsSource::Files { cert, key } => {
            // D1, OP1: the private key is the service account's alone in production.
            if config.mode == crate::config::Mode::Production {
                crate::perms::refuse_shared(key, "TLS private key")?;
            }
            CertStore::load(cert, key)
        }
        TlsSource::Generated => {
            let (cert, key) = dev_paths(&config.data_dir);
            if !cert.exists() || !key.exists() {
                let _ = std::fs::remove_file(&cert);
                let _ = std::fs::remove_file(&key);
                generate_dev_cert(&cert, &key)?;
            }
            eprintln!("gatehouse: development TLS certificate (self-signed, for localhost): {}", cert.display());
            CertStore::load(&cert, &key)
        }
    }
}
