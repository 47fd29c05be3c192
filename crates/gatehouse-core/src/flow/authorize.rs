//! The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2; O2), in two phases.
//! Phase one establishes trust (the client exists, the redirect URI is one of its registered
//! ones, compared exactly); its failures render an error page and never redirect. Phase two
//! checks everything else; its failures redirect to the client with `error`, `state`, `iss`.

use gatehouse_types::{GrantType, OAuthErrorCode, ProtocolError, ScopeSet};
use serde::{Deserialize, Serialize};

use super::pkce;
use crate::UnixTime;
use crate::model::Client;
use crate::store::SessionRecord;

/// How the response reaches the client (OAuth 2.0 Multiple Response Types; Form Post).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// A validated authorization request, kept while the user logs in or consents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub acr_values: Option<String>,
    /// O8: the upstream to sign in with, skipping the login page (`upstream=NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

/// Where a phase-two error goes: the verified redirect URI, with the client's `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    pub error: ProtocolError,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub response_mode: ResponseMode,
}

/// Phase-one failures: shown on an error page, never redirected (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustError {
    UnknownClient,
    MissingRedirectUri,
    UnregisteredRedirectUri,
}

/// A lookup of the raw query/form parameters.
pub trait RawParams {
    fn param(&self, name: &str) -> Option<&str>;
}

impl RawParams for crate::oauth::Params {
    fn param(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}

/// Phase one, RFC 6749 §3.1.2.3: the redirect URI is compared exactly with a registered one.
/// OIDC requires it; a client with exactly one registered URI still must send it.
pub fn check_redirect_uri<'c>(
    client: Option<&'c Client>,
    params: &impl RawParams,
) -> Result<(&'c Client, String), TrustError> {
    let client = client.ok_or(TrustError::UnknownClient)?;
    let uri = params.param("redirect_uri").ok_or(TrustError::MissingRedirectUri)?;
    if !client.redirect_uris.iter().any(|r| r == uri) {
        return Err(TrustError::UnregisteredRedirectUri);
    }
    Ok((client, uri.to_owned()))
}

fn err(code: OAuthErrorCode, description: &'static str) -> ProtocolError {
    ProtocolError::new(code, description)
}

/// RFC 6749 §3.1.1: only `code` (O2).
fn check_response_type(params: &impl RawParams) -> Result<(), ProtocolError> {
    match params.param("response_type") {
        Some("code") => Ok(()),
        Some(_) => Err(err(OAuthErrorCode::UnsupportedResponseType, "only response_type=code is supported")),
        None => Err(err(OAuthErrorCode::InvalidRequest, "response_type is required")),
    }
}

/// OAuth 2.0 Form Post Response Mode: `query` (default) or `form_post`; `fragment` refused.
fn parse_response_mode(params: &impl RawParams) -> Result<ResponseMode, ProtocolError> {
    match params.param("response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(_) => Err(err(OAuthErrorCode::InvalidRequest, "response_mode must be query or form_post")),
    }
}

/// RFC 7636 §4.3, O2: a S256 challenge is required of every client; `plain` is refused.
fn check_pkce(params: &impl RawParams) -> Result<String, ProtocolError> {
    let challenge = params
        .param("code_challenge")
        .ok_or(err(OAuthErrorCode::InvalidRequest, "code_challenge is required (PKCE)"))?;
    if params.param("code_challenge_method") != Some("S256") {
        return Err(err(OAuthErrorCode::InvalidRequest, "code_challenge_method must be S256"));
    }
    if !pkce::valid_challenge(challenge) {
        return Err(err(OAuthErrorCode::InvalidRequest, "code_challenge is malformed"));
    }
    Ok(challenge.to_owned())
}

/// RFC 6749 §4.1: the client must be registered for the code grant.
fn check_grant(client: &Client) -> Result<(), ProtocolError> {
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(err(OAuthErrorCode::UnauthorizedClient, "the client may not use the authorization code grant"));
    }
    Ok(())
}

/// RFC 6749 §3.3: every requested scope must be registered for the client.
/// `offline_access` needs the refresh-token grant.
fn check_scope(client: &Client, params: &impl RawParams) -> Result<String, ProtocolError> {
    let invalid = err(OAuthErrorCode::InvalidScope, "the requested scope is invalid or not allowed");
    let requested = ScopeSet::parse(params.param("scope").unwrap_or("")).map_err(|_| invalid.clone())?;
    let allowed = ScopeSet::parse(&client.scope).map_err(ProtocolError::server)?;
    let refresh = client.grant_types.contains(&GrantType::RefreshToken);
    if requested.iter().any(|s| !allowed.contains(s.as_str()) || (s.as_str() == "offline_access" && !refresh)) {
        return Err(invalid);
    }
    Ok(requested.to_string())
}

/// OIDC Core §3.1.2.1: `prompt` values; `none` cannot be combined with another.
fn parse_prompt(params: &impl RawParams) -> Result<Vec<String>, ProtocolError> {
    let values: Vec<String> =
        params.param("prompt").unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if values.iter().any(|v| !matches!(v.as_str(), "none" | "login" | "consent" | "select_account")) {
        return Err(err(OAuthErrorCode::InvalidRequest, "unsupported prompt value"));
    }
    if values.len() > 1 && values.iter().any(|v| v == "none") {
        return Err(err(OAuthErrorCode::InvalidRequest, "prompt=none cannot be combined"));
    }
    Ok(values)
}

/// OIDC Core §3.1.2.1: `max_age` is a non-negative number of seconds.
fn parse_max_age(params: &impl RawParams) -> Result<Option<i64>, ProtocolError> {
    params
        .param("max_age")
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(err(OAuthErrorCode::InvalidRequest, "max_age must be a whole number of seconds"))
        })
        .transpose()
}

/// IO1: bounded lengths for values echoed or stored.
fn bounded(params: &impl RawParams, name: &str, max: usize) -> Result<Option<String>, ProtocolError> {
    match params.param(name) {
        Some(v) if v.len() > max => Err(err(OAuthErrorCode::InvalidRequest, "a parameter is too long")),
        other => Ok(other.map(str::to_owned)),
    }
}

/// OIDC Core §6: request objects are not supported.
fn check_no_request_object(params: &impl RawParams) -> Result<(), ProtocolError> {
    if params.param("request").is_some() || params.param("request_uri").is_some() {
        return Err(err(OAuthErrorCode::InvalidRequest, "request objects are not supported"));
    }
    Ok(())
}

/// Phase two: every other check, in order. Errors go back to the client's redirect URI.
pub fn parse(
    client: &Client,
    redirect_uri: String,
    params: &impl RawParams,
) -> Result<AuthorizeRequest, RedirectError> {
    let state = params.param("state").filter(|s| s.len() <= 1024).map(str::to_owned);
    let response_mode = parse_response_mode(params).unwrap_or(ResponseMode::Query);
    let fail = |error: ProtocolError| RedirectError {
        error,
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        response_mode,
    };
    let run = || -> Result<AuthorizeRequest, ProtocolError> {
        check_response_type(params)?;
        let response_mode = parse_response_mode(params)?;
        check_no_request_object(params)?;
        check_grant(client)?;
        let code_challenge = check_pkce(params)?;
        let scope = check_scope(client, params)?;
        let prompt = parse_prompt(params)?;
        let max_age = parse_max_age(params)?;
        if params.param("state").is_some_and(|s| s.len() > 1024) {
            return Err(err(OAuthErrorCode::InvalidRequest, "state is too long"));
        }
        Ok(AuthorizeRequest {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            response_mode,
            scope,
            state: state.clone(),
            nonce: bounded(params, "nonce", 512)?,
            code_challenge,
            prompt,
            max_age,
            login_hint: bounded(params, "login_hint", 256)?,
            acr_values: bounded(params, "acr_values", 256)?,
            upstream: bounded(params, "upstream", 40)?,
        })
    };
    run().map_err(fail)
}

/// What must happen before a code can be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    Login,
    Consent,
    Issue,
}

/// The one decision of the endpoint (OIDC Core §3.1.2.3, O6, A6): log in if there is no live
/// session, if `prompt=login` asked for a fresh one, if `max_age` has passed (`max_age=0`
/// always), or if `acr_values` asks for a second factor the session lacks (step-up); then ask
/// for consent if a third-party client lacks it for these scopes or `prompt=consent`; with
/// `prompt=none`, needing either is an error instead.
pub fn decide(
    req: &AuthorizeRequest,
    client: &Client,
    session: Option<&SessionRecord>,
    fresh_login: bool,
    consented_scope: Option<&str>,
    now: UnixTime,
) -> Result<Interaction, ProtocolError> {
    let none = req.prompt.iter().any(|p| p == "none");
    let too_old = |s: &SessionRecord| req.max_age.is_some_and(|m| m == 0 || now.0 - s.auth_time > m);
    let too_weak =
        |s: &SessionRecord| crate::mfa::acr_requests_mfa(req.acr_values.as_deref()) && s.acr != crate::mfa::ACR_MFA;
    let needs_login = match session {
        None => true,
        Some(s) => !fresh_login && (req.prompt.iter().any(|p| p == "login") || too_old(s) || too_weak(s)),
    };
    if needs_login {
        return if none {
            Err(err(OAuthErrorCode::LoginRequired, "the user is not logged in"))
        } else {
            Ok(Interaction::Login)
        };
    }
    let covered = consented_scope.is_some_and(|granted| {
        let granted: Vec<&str> = granted.split(' ').collect();
        req.scope.split(' ').filter(|s| !s.is_empty()).all(|s| granted.contains(&s))
    });
    let needs_consent = !client.first_party && (!covered || req.prompt.iter().any(|p| p == "consent"));
    if needs_consent {
        return if none {
            Err(err(OAuthErrorCode::ConsentRequired, "the user has not consented"))
        } else {
            Ok(Interaction::Consent)
        };
    }
    Ok(Interaction::Issue)
}
