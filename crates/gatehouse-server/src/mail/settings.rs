//! Where mail goes (`smtp_url`, `smtp_from`, `smtp_ca_file`).
//!
//! - empty (development default): `.eml` files in `{data_dir}/outbox/`;
//! - `smtps://[user[:password]@]host[:port]`: implicit TLS (default port 465);
//! - `smtp://[user[:password]@]host[:port]`: STARTTLS, required (default port 587);
//! - `smtp+insecure://host[:port]`: no TLS, for a relay on the same host; production refuses it.

use std::path::PathBuf;

use gatehouse_types::Secret;
use url::Url;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// TLS from the first byte.
    Implicit,
    /// STARTTLS, and no mail without it.
    StartTls,
    /// Plain text (development and local relays only).
    Insecure,
}

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// Development: each message as an `.eml` file in this directory.
    Files(PathBuf),
    Smtp {
        host: String,
        port: u16,
        tls: SmtpTls,
        credentials: Option<(String, Secret<String>)>,
    },
}

/// The mail settings, checked.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: MailTransport,
    /// The default sender, `Name <address>` or an address (tenants may set their own).
    pub from: String,
    /// A PEM certificate to trust for the SMTP server besides the system's roots.
    pub ca_file: Option<PathBuf>,
}

/// Parses the settings; errors name the key.
pub fn parse(
    url: Option<&str>,
    from: Option<&str>,
    ca_file: Option<&str>,
    data_dir: &std::path::Path,
    production: bool,
) -> Result<MailConfig, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let from = from.filter(|f| !f.is_empty()).unwrap_or("Gatehouse <noreply@localhost>").to_owned();
    if from.parse::<lettre::message::Mailbox>().is_err() {
        errors
            .push(("smtp_from", "must be an address, or a name and an address like Gatehouse <id@example.com>".into()));
    }
    let transport = match url.filter(|u| !u.is_empty()) {
        None => MailTransport::Files(data_dir.join("outbox")),
        Some(text) => match smtp(text) {
            Ok(t) => t,
            Err(e) => {
                errors.push(("smtp_url", e.to_owned()));
                MailTransport::Files(data_dir.join("outbox"))
            }
        },
    };
    if production && matches!(transport, MailTransport::Smtp { tls: SmtpTls::Insecure, .. }) {
        errors.push(("smtp_url", "production mode refuses mail without TLS (use smtps:// or smtp://)".into()));
    }
    if errors.is_empty() {
        Ok(MailConfig { transport, from, ca_file: ca_file.filter(|c| !c.is_empty()).map(PathBuf::from) })
    } else {
        Err(errors)
    }
}

fn smtp(text: &str) -> Result<MailTransport, &'static str> {
    let bad = "must be smtps://host[:port], smtp://host[:port] (STARTTLS) or smtp+insecure://host[:port]";
    let url = Url::parse(text).map_err(|_| bad)?;
    let (tls, default_port) = match url.scheme() {
        "smtps" => (SmtpTls::Implicit, 465),
        "smtp" => (SmtpTls::StartTls, 587),
        "smtp+insecure" => (SmtpTls::Insecure, 25),
        _ => return Err(bad),
    };
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or(bad)?.to_owned();
    if !url.path().trim_matches('/').is_empty() || url.query().is_some() {
        return Err(bad);
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let credentials = (!url.username().is_empty())
        .then(|| (decode(url.username()), Secret::new(decode(url.password().unwrap_or("")))));
    Ok(MailTransport::Smtp { host, port: url.port().unwrap_or(default_port), tls, credentials })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_choose_the_transport_and_production_wants_tls() {
        let dir = std::path::Path::new("/data");
        let c = parse(None, None, None, dir, true).unwrap();
        assert!(matches!(c.transport, MailTransport::Files(ref p) if p == &dir.join("outbox")));
        let c = parse(Some("smtp://mailer:p%40ss@mail.example.com"), Some("Acme <id@acme.example>"), None, dir, true)
            .unwrap();
        match c.transport {
            MailTransport::Smtp { host, port, tls, credentials: Some((user, pass)) } => {
                assert_eq!((host.as_str(), port, tls), ("mail.example.com", 587, SmtpTls::StartTls));
                assert_eq!((user.as_str(), pass.expose().as_str()), ("mailer", "p@ss"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(Some("smtps://mail.example.com"), None, None, dir, true).unwrap().transport,
            MailTransport::Smtp { port: 465, tls: SmtpTls::Implicit, .. }
        ));
        let refused = parse(Some("smtp+insecure://localhost:2525"), None, None, dir, true).unwrap_err();
        assert_eq!(refused[0].0, "smtp_url");
        assert!(parse(Some("smtp+insecure://localhost:2525"), None, None, dir, false).is_ok(), "development allows it");
        assert_eq!(parse(Some("http://mail"), Some("nobody"), None, dir, false).unwrap_err().len(), 2);
    }
}
