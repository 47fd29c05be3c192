//! Typed claims of a validated access token (RFC 9068 §2.2).

use serde_json::{Map, Value};

/// What a validated token says. `extra` holds every claim, including custom ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    pub subject: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub roles: Vec<String>,
    pub tenant: Option<String>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub auth_time: Option<i64>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub jti: Option<String>,
    pub extra: Map<String, Value>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(s)) => s.split(' ').filter(|x| !x.is_empty()).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

impl Claims {
    /// Reads the claims of a token already checked for signature, issuer, audience and time.
    pub(crate) fn from_map(map: Map<String, Value>) -> Option<Self> {
        let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            subject: text("sub")?,
            client_id: text("client_id").unwrap_or_default(),
            scopes: strings(map.get("scope")),
            roles: strings(map.get("roles")),
            tenant: text("tenant"),
            acr: text("acr"),
            amr: strings(map.get("amr")),
            auth_time: map.get("auth_time").and_then(Value::as_i64),
            issued_at: map.get("iat").and_then(Value::as_i64)?,
            expires_at: map.get("exp").and_then(Value::as_i64)?,
            jti: text("jti"),
            extra: map,
        })
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether the user holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}
