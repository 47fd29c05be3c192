//! The Gatehouse server: configuration, TLS, the HTTP layer, and the operator commands behind
//! the `gatehouse` binary.

pub mod alerts;
pub mod api;
pub mod audit_writer;
pub mod backup;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod http;
pub mod logging;
pub mod mail;
pub mod master_key;
pub mod metrics;
pub mod perms;
pub mod purge;
pub mod rate_limit;
pub mod state;
pub mod tls;

use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::DirBuilderExt;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use gatehouse_core::UnixTime;
use gatehouse_core::admin::bootstrap_platform;
use gatehouse_core::password::PasswordHasher;
use gatehouse_store::Store;

use crate::config::Config;
use crate::http::middleware::{self, BodyLimit};
use crate::http::redirect::RedirectBase;
use crate::state::AppState;
use crate::tls::CertStore;

/// Extra routes mounted by tests (for example a handler that panics).
pub type ExtraRoutes = fn(&mut web::ServiceConfig);

/// A started server: its bound addresses and what is needed to stop or await it.
pub struct Running {
    pub https_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    pub certs: Arc<CertStore>,
    pub store: Store,
    handles: Vec<ServerHandle>,
    servers: Vec<actix_web::rt::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Waits until both listeners have stopped (on SIGINT/SIGTERM, or `shutdown`).
    pub async fn wait(self) -> anyhow::Result<()> {
        for s in self.servers {
            s.await.context("server task")??;
        }
        Ok(())
    }

    /// Tells both listeners to stop now, without waiting (for use in `Drop`).
    pub fn shutdown(&self) {
        for h in &self.handles {
            // The command is sent when `stop` is called; the returned future only awaits it.
            drop(h.stop(false));
        }
    }
}

/// Creates the data directory, for the owner only. An existing one shared with group or
/// others is refused in production and made private in development (D1, OP1).
pub fn ensure_data_dir(config: &Config) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    if config.mode == config::Mode::Production {
        perms::refuse_shared(&config.data_dir, "data directory")
    } else {
        perms::make_private(&config.data_dir)
    }
}

/// Connects to the database. A SQLite file (whose mode SQLite gives its WAL and shared-memory
/// files) is the owner's only: an existing shared one is refused in production and made
/// private in development; one SQLite creates now (under the umask) is made private.
fn connect(config: &Config) -> anyhow::Result<gatehouse_store::Database> {
    let file = config.database.sqlite_path().map(|p| (p, p.exists()));
    if let Some((path, true)) = file {
        if config.mode == config::Mode::Production {
            perms::refuse_shared(path, "SQLite database file")?;
        } else {
            perms::make_private(path)?;
        }
    }
    let db = gatehouse_store::Database::connect(&config.database)?;
    if let Some((path, false)) = file {
        perms::make_private(path)?;
    }
    Ok(db)
}

/// Opens the store: data directory, master key, migrations, data keys.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    ensure_data_dir(config)?;
    let master = master_key::load(config)?;
    let db = connect(config)?;
    backup::before_migrating(config, &db)?;
    Store::on(db, &master).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A8: on first start, creates the platform administrator and prints the one-time password
/// once, to the terminal only (never to the log).
fn bootstrap(store: &Store, config: &Config) -> anyhow::Result<()> {
    let (m, t, p) = config.argon2;
    let hasher = PasswordHasher::new(m, t, p)?;
    if let Some(created) = bootstrap_platform(store, &hasher, UnixTime::now())? {
        eprintln!(
            "\n==> First start: created the platform administrator.\n    tenant:   {}\n    username: {}\n    one-time password: {}\n    \
             This password is shown only now. It must be changed, and MFA enrolled, at first sign-in.\n",
            created.tenant.slug,
            created.username,
            created.one_time_password.expose()
        );
    }
    Ok(())
}

fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).with_context(|| format!("binding {addr}"))
}

/// Starts the HTTPS server and the plain-HTTP redirector on the configured addresses (port 0
/// picks a free port) and returns once both listen.
pub async fn start(config: Config, extra: Option<ExtraRoutes>) -> anyhow::Result<Running> {
    let config = Arc::new(config);
    let store = {
        let config = config.clone();
        web::block(move || -> anyhow::Result<Store> {
            let store = open_store(&config)?;
            bootstrap(&store, &config)?;
            Ok(store)
        })
        .await??
    };
    let certs = tls::cert_store(&config)?;
    certs.watch(config.tls_reload);
    let tls_config = tls::server_config(certs.clone())?;

    // A2: the common-password list, decompressed and indexed now rather than at a first
    // password change.
    let common = web::block(|| gatehouse_core::password::CommonPasswords::get().len()).await?;
    tracing::debug!(entries = common, "common-password list loaded");
    let (m, t, p) = config.argon2;
    let hasher = Arc::new(PasswordHasher::new(m, t, p)?);
    let dummy_hash = {
        let hasher = hasher.clone();
        let dummy = gatehouse_types::Secret::new(gatehouse_core::crypto::random_token());
        web::block(move || hasher.hash(&dummy)).await??
    };
    let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
    let state = web::Data::new(AppState {
        store: store.clone(),
        config: config.clone(),
        caches: Arc::new(http::oauth::context::Caches::new(config.cache_ttl)),
        hasher,
        hash_permits: Arc::new(tokio::sync::Semaphore::new(parallelism)),
        dummy_hash,
        audit_writer: audit_writer::AuditWriter::start(store.clone())?,
        outbound: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        upstreams: Arc::new(http::upstream::client::Upstreams::new(config.upstream_ca_file.as_deref())?),
        login_limit: rate_limit::IpLimit::new(config.login_attempts_per_minute, rate_limit::Per::Minute).map(Arc::new),
        token_limit: rate_limit::IpLimit::new(config.token_requests_per_second, rate_limit::Per::Second).map(Arc::new),
        failure_streaks: Arc::default(),
        metrics: Arc::default(),
        alerts: Arc::new(alerts::Alerter::new(config.alert_webhook_url.clone())),
        logout_wakeup: Arc::default(),
        mail_wakeup: Arc::default(),
        reset_sends: Arc::default(),
    });
    actix_web::rt::spawn(http::oauth::backchannel::run(state.clone(), config.outbox_poll));
    let mailer = Arc::new(mail::Mailer::new(&config.mail)?);
    actix_web::rt::spawn(mail::run(store.clone(), mailer, state.mail_wakeup.clone(), config.outbox_poll));
    let limit = web::Data::new(BodyLimit(config.max_body_bytes));
    let max = config.max_body_bytes;
    let hsts = config.hsts_max_age;
    let workers =
        if config.workers == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { config.workers };

    let https_listener = bind(config.https_addr)?;
    let https_addr = https_listener.local_addr()?;
    let http_listener = config.http_addr.map(bind).transpose()?;
    let http_addr = http_listener.as_ref().map(TcpListener::local_addr).transpose()?;
    let base = web::Data::new(RedirectBase(config.public_url.clone()));
    // One server for both listeners: the plain-HTTP one only redirects (T2), unless a trusted
    // proxy forwards a request it received over HTTPS (T5).
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(base.clone())
            .app_data(limit.clone())
            .app_data(web::PayloadConfig::new(max))
            .app_data(web::FormConfig::default().limit(max))
            .app_data(web::JsonConfig::default().limit(max))
            .configure(|cfg| {
                if let Some(extra) = extra {
                    extra(cfg);
                }
                http::routes(cfg);
            })
            .wrap(from_fn(middleware::end_form_redirect_chains))
            .wrap(from_fn(middleware::body_limit))
            .wrap(from_fn(middleware::catch_panic))
            .wrap(ErrorHandlers::new().default_handler(http::errors::replace_error))
            .wrap(middleware::security_headers(hsts))
            .wrap(from_fn(middleware::request_context))
            .wrap(from_fn(http::redirect::plain_http))
    })
    .workers(workers)
    .listen_rustls_0_23(https_listener, tls_config)?;
    let server = match http_listener {
        Some(listener) => server.listen(listener)?,
        None => server,
    };
    let servers: Vec<Server> = vec![server.run()];
    tracing::info!(https = %https_addr, http = ?http_addr, public_url = %config.public_url, "gatehouse listening");
    let handles = servers.iter().map(Server::handle).collect();
    actix_web::rt::spawn(purge::every(store.clone(), purge::INTERVAL, config.audit_retention_days));
    let servers = servers.into_iter().map(actix_web::rt::spawn).collect();
    Ok(Running { https_addr, http_addr, certs, store, handles, servers })
}
