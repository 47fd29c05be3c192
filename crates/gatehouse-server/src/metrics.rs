//! L4: Prometheus metrics. Counted with relaxed atomics, so no request path takes a lock for
//! them, and rendered in the text exposition format (version 0.0.4) by `GET /metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Something worth counting.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    TokenIssued(Grant),
    LoginSucceeded,
    LoginFailed,
    /// A4: a failure that locked an account (lockout storms show here).
    AccountLocked,
    /// A4: a request refused by a per-IP limit (credential stuffing shows here).
    RateLimited(Limited),
    /// O2/O3: a replayed code or a reused refresh token (an intrusion signal).
    TokenReplay,
    ClientAuthFailed,
    /// O8: a sign-in through an upstream, by result.
    UpstreamSignIn {
        ok: bool,
    },
}

/// The grants of the token endpoint.
#[derive(Debug, Clone, Copy)]
pub enum Grant {
    ClientCredentials,
    AuthorizationCode,
    RefreshToken,
}

/// The rate-limited endpoints.
#[derive(Debug, Clone, Copy)]
pub enum Limited {
    Login,
    Token,
}

impl Limited {
    /// The endpoint's name in logs and audit records.
    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Token => "token",
        }
    }
}

/// The counters of one server.
#[derive(Debug, Default)]
pub struct Metrics {
    responses: [AtomicU64; 5],
    tokens: [AtomicU64; 3],
    logins: [AtomicU64; 2],
    lockouts: AtomicU64,
    limited: [AtomicU64; 2],
    replays: AtomicU64,
    client_auth_failures: AtomicU64,
    upstream_logins: [AtomicU64; 2],
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts `event`.
    pub fn count(&self, event: Event) {
        match event {
            Event::TokenIssued(g) => bump(&self.tokens[g as usize]),
            Event::LoginSucceeded => bump(&self.logins[0]),
            Event::LoginFailed => bump(&self.logins[1]),
            Event::AccountLocked => bump(&self.lockouts),
            Event::RateLimited(e) => bump(&self.limited[e as usize]),
            Event::TokenReplay => bump(&self.replays),
            Event::ClientAuthFailed => bump(&self.client_auth_failures),
            Event::UpstreamSignIn { ok } => bump(&self.upstream_logins[usize::from(!ok)]),
        }
    }

    /// Counts a response by its status class.
    pub fn response(&self, status: u16) {
        if let Some(c) = self.responses.get(usize::from(status / 100).wrapping_sub(1)) {
            bump(c);
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(2048);
        let mut family = |name: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"];
        let responses: Vec<(String, u64)> =
            classes.iter().zip(&self.responses).map(|(c, n)| (format!("{{class=\"{c}\"}}"), get(n))).collect();
        let responses: Vec<(&str, u64)> = responses.iter().map(|(l, n)| (l.as_str(), *n)).collect();
        family("gatehouse_http_responses_total", "HTTPS responses by status class.", &responses);
        family(
            "gatehouse_tokens_issued_total",
            "Token responses by grant.",
            &[
                ("{grant=\"client_credentials\"}", get(&self.tokens[0])),
                ("{grant=\"authorization_code\"}", get(&self.tokens[1])),
                ("{grant=\"refresh_token\"}", get(&self.tokens[2])),
            ],
        );
        family(
            "gatehouse_logins_total",
            "Sign-in attempts by result.",
            &[("{result=\"success\"}", get(&self.logins[0])), ("{result=\"failure\"}", get(&self.logins[1]))],
        );
        family(
            "gatehouse_account_lockouts_total",
            "Accounts locked by repeated failures (A4).",
            &[("", get(&self.lockouts))],
        );
        family(
            "gatehouse_rate_limited_total",
            "Requests refused by a per-client-IP limit (A4).",
            &[("{endpoint=\"login\"}", get(&self.limited[0])), ("{endpoint=\"token\"}", get(&self.limited[1]))],
        );
        family(
            "gatehouse_token_replays_total",
            "Replayed authorization codes and reused refresh tokens; their families are revoked.",
            &[("", get(&self.replays))],
        );
        family(
            "gatehouse_client_auth_failures_total",
            "Failed client authentications.",
            &[("", get(&self.client_auth_failures))],
        );
        family(
            "gatehouse_upstream_logins_total",
            "Sign-ins through upstream providers by result (O8; failures audited with their reason).",
            &[
                ("{result=\"success\"}", get(&self.upstream_logins[0])),
                ("{result=\"failure\"}", get(&self.upstream_logins[1])),
            ],
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_in_the_exposition_format() {
        let m = Metrics::default();
        m.count(Event::TokenIssued(Grant::RefreshToken));
        m.count(Event::RateLimited(Limited::Token));
        m.count(Event::RateLimited(Limited::Token));
        m.response(200);
        m.response(404);
        m.response(404);
        m.response(999);
        let text = m.render();
        for line in [
            "# TYPE gatehouse_tokens_issued_total counter",
            "gatehouse_tokens_issued_total{grant=\"refresh_token\"} 1",
            "gatehouse_tokens_issued_total{grant=\"client_credentials\"} 0",
            "gatehouse_rate_limited_total{endpoint=\"token\"} 2",
            "gatehouse_http_responses_total{class=\"4xx\"} 2",
            "gatehouse_http_responses_total{class=\"2xx\"} 1",
            "gatehouse_account_lockouts_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
