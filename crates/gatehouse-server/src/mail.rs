//! Mail (A8, A9, AC3): single-use links composed from fixed texts (plain text and HTML,
//! askama, escaped), sealed and queued in the database in the transaction that issues the link,
//! and sent by a worker on every node with retries and back-off: a slow or failing mail server
//! never holds up a request, and a crash loses nothing.

pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use askama::Template;
use gatehouse_core::StoreError;
use gatehouse_core::UnixTime;
use gatehouse_core::account::{TokenPurpose, issue_token};
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::crypto::random_token;
use gatehouse_core::mail::{OutgoingMail, QueuedMail};
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::store::{AccountStore, MailStore};
use gatehouse_store::Store;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{FileTransport, Message, SmtpTransport, Transport};

pub use settings::{MailConfig, MailTransport, SmtpTls};

/// Attempts before a message is given up.
const MAX_ATTEMPTS: i32 = 8;
/// Messages taken per look.
const BATCH: i64 = 20;

#[derive(Template)]
#[template(path = "mail.txt")]
struct MailText<'a> {
    greeting: &'a str,
    intro: &'a str,
    link: &'a str,
    expiry: &'a str,
    tenant_name: &'a str,
}

#[derive(Template)]
#[template(path = "mail.html")]
struct MailHtml<'a> {
    greeting: &'a str,
    intro: &'a str,
    link: &'a str,
    action: &'a str,
    expiry: &'a str,
    tenant_name: &'a str,
}

/// The fixed texts of a link's message: subject, introduction, action, expiry.
fn texts(purpose: TokenPurpose, tenant: &str, username: &str) -> (String, String, &'static str, &'static str) {
    match purpose {
        TokenPurpose::Invite => (
            format!("Your account at {tenant}"),
            format!(
                "An administrator created the account \"{username}\" for you at {tenant}. Choose its password here:"
            ),
            "Set your password",
            "The link works once, for 72 hours.",
        ),
        TokenPurpose::Reset => (
            format!("Reset your {tenant} password"),
            format!("Someone asked to reset the password of \"{username}\" at {tenant}. Choose a new one here:"),
            "Choose a new password",
            "The link works once, for 30 minutes. Using it signs you out everywhere.",
        ),
        TokenPurpose::Email => (
            format!("Confirm your new e-mail address at {tenant}"),
            format!("Confirm that this is the new e-mail address of \"{username}\" at {tenant}:"),
            "Confirm this address",
            "The link works once, for 24 hours.",
        ),
        TokenPurpose::Verify => (
            format!("Confirm your e-mail address at {tenant}"),
            format!("Confirm your e-mail address to finish signing up as \"{username}\" at {tenant}:"),
            "Confirm your address",
            "The link works once, for 24 hours.",
        ),
    }
}

/// The page a link of `purpose` opens, under the tenant's issuer.
pub fn link_path(purpose: TokenPurpose) -> &'static str {
    match purpose {
        TokenPurpose::Invite => "/account/set-password",
        TokenPurpose::Reset => "/account/reset",
        TokenPurpose::Email => "/account/email/confirm",
        TokenPurpose::Verify => "/account/verify",
    }
}

/// Composes the message carrying `link` to `to`.
fn compose(
    config: &MailConfig,
    tenant: &Tenant,
    user: &User,
    purpose: TokenPurpose,
    to: &str,
    link: &str,
) -> Result<OutgoingMail, askama::Error> {
    let name = if user.display_name.is_empty() { &user.username } else { &user.display_name };
    let greeting = format!("Hello {name},");
    let (subject, intro, action, expiry) = texts(purpose, &tenant.display_name, &user.username);
    let tenant_name = tenant.display_name.as_str();
    let text = MailText { greeting: &greeting, intro: &intro, link, expiry, tenant_name }.render()?;
    let html = MailHtml { greeting: &greeting, intro: &intro, link, action, expiry, tenant_name }.render()?;
    let from = tenant.policy.mail_from.clone().unwrap_or_else(|| config.from.clone());
    Ok(OutgoingMail { from, to: to.to_owned(), subject, text, html })
}

/// Sends `user` a single-use link for `purpose` to `to` (their address, or the new one of
/// an e-mail change, carried as `data`): the link is stored hashed, voiding earlier ones, and
/// its message queued, with `audit`, in one transaction.
#[allow(clippy::too_many_arguments)]
pub fn send_link(
    store: &Store,
    config: &MailConfig,
    public_url: &str,
    tenant: &Tenant,
    user: &User,
    purpose: TokenPurpose,
    to: &str,
    data: &str,
    audit: &AuditEvent,
    now: UnixTime,
) -> Result<(), StoreError> {
    let (token, record) = issue_token(&tenant.id, &user.id, purpose, data, now);
    let link = format!("{}{}?token={token}", tenant.issuer(public_url), link_path(purpose));
    let mail = compose(config, tenant, user, purpose, to, &link).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let id = random_token();
    let sealed = mail.seal(store.vault(), &id).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    store.issue_user_token(&record, Some((&id, &sealed)), audit)
}

/// The transport mail leaves by, built once.
pub enum Mailer {
    Files(FileTransport),
    Smtp(SmtpTransport),
}

impl Mailer {
    /// Builds the transport of `config` (reading `ca_file` if set).
    pub fn new(config: &MailConfig) -> anyhow::Result<Self> {
        match &config.transport {
            MailTransport::Files(dir) => {
                std::fs::create_dir_all(dir)?;
                crate::perms::make_private(dir)?;
                Ok(Self::Files(FileTransport::new(dir)))
            }
            MailTransport::Smtp { host, port, tls, credentials } => {
                let mut params = TlsParameters::builder(host.clone());
                if let Some(ca) = &config.ca_file {
                    params = params.add_root_certificate(Certificate::from_pem(&std::fs::read(ca)?)?);
                }
                let tls = match tls {
                    SmtpTls::Implicit => Tls::Wrapper(params.build_rustls()?),
                    SmtpTls::StartTls => Tls::Required(params.build_rustls()?),
                    SmtpTls::Insecure => Tls::None,
                };
                let mut builder = SmtpTransport::builder_dangerous(host.as_str())
                    .port(*port)
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(15)));
                if let Some((user, password)) = credentials {
                    builder = builder.credentials(Credentials::new(user.clone(), password.expose().clone()));
                }
                Ok(Self::Smtp(builder.build()))
            }
        }
    }

    /// Sends one message (blocking: call it off the executor).
    fn send(&self, mail: &OutgoingMail) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(mail.from.parse::<Mailbox>()?)
            .to(mail.to.parse::<Mailbox>()?)
            .subject(mail.subject.clone())
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))?;
        match self {
            Self::Files(t) => t.send(&message).map(|_| ()).map_err(anyhow::Error::from),
            Self::Smtp(t) => t.send(&message).map(|_| ()).map_err(anyhow::Error::from),
        }
    }
}

/// Seconds until the attempt after attempt number `attempts` (1 min, doubling, ≤ 2 h).
fn retry_delay(attempts: i32) -> i64 {
    60 << attempts.clamp(0, 7)
}

/// Sends due mail whenever woken, and every `poll` in any case.
pub async fn run(store: Store, mailer: Arc<Mailer>, wakeup: Arc<tokio::sync::Notify>, poll: Duration) {
    loop {
        if let Err(e) = send_due(&store, &mailer).await {
            tracing::error!(error = %e, "sending mail failed");
        }
        tokio::select! {
            () = wakeup.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// Sends every message due now that this node can claim.
async fn send_due(store: &Store, mailer: &Arc<Mailer>) -> anyhow::Result<()> {
    loop {
        let now = UnixTime::now().0;
        let s = store.clone();
        let due: Vec<QueuedMail> = web::block(move || s.due_mail(now, BATCH)).await??;
        let full = due.len() as i64 == BATCH;
        for queued in due {
            let (s, id) = (store.clone(), queued.id.clone());
            let retry_at = now + retry_delay(queued.attempts);
            if !web::block(move || s.claim_mail(&id, now, retry_at)).await?? {
                continue;
            }
            let (s, m, id, sealed) = (store.clone(), mailer.clone(), queued.id.clone(), queued.sealed);
            let sent = web::block(move || {
                let mail = OutgoingMail::open(s.vault(), &id, &sealed)?;
                m.send(&mail)
            })
            .await?;
            let last = queued.attempts + 1 >= MAX_ATTEMPTS;
            let done = sent.is_ok() || last;
            match sent {
                Ok(()) => tracing::info!(mail = %queued.id, "mail sent"),
                Err(e) if last => tracing::error!(mail = %queued.id, error = %e, "mail given up"),
                Err(e) => {
                    tracing::warn!(mail = %queued.id, error = %e, attempt = queued.attempts + 1, "mail not sent; will retry")
                }
            }
            if done {
                let (s, id) = (store.clone(), queued.id.clone());
                web::block(move || s.finish_mail(&id)).await??;
            }
        }
        if !full {
            return Ok(());
        }
    }
}
