//! actix-web integration (G3): the `Authenticated` extractor and the `RequirePolicy`
//! middleware. Both read the `Guard` from `web::Data<Guard>`; refusals follow RFC 6750.

use std::future::{Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use crate::{AuthError, Claims, Guard, Policy};

/// A request whose bearer token the guard accepted.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

impl Authenticated {
    /// The token's claims.
    pub fn claims(&self) -> &Claims {
        &self.0
    }
}

/// A refusal as an actix-web error: the RFC 6750 response for the guard's realm.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Rejection {
    pub error: AuthError,
    realm: String,
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.error.challenge(&self.realm).status).unwrap_or(StatusCode::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        match &self.error {
            AuthError::Unavailable(detail) => tracing::error!(detail = %detail, "token validation unavailable"),
            other => tracing::info!(error = %other, "request refused"),
        }
        let challenge = self.error.challenge(&self.realm);
        let mut res = match self.error.code() {
            Some(code) => HttpResponse::build(self.status_code()).json(serde_json::json!({ "error": code })),
            None => HttpResponse::build(self.status_code()).finish(),
        };
        if let Some(h) = challenge.www_authenticate.and_then(|h| HeaderValue::from_str(&h).ok()) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, h);
        }
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

/// RFC 6750 §2.1: `Authorization: Bearer <token>`; the scheme is case-insensitive.
fn bearer(req: &HttpRequest) -> Result<String, AuthError> {
    let value =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(AuthError::MissingToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::InvalidToken("malformed authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token.trim().to_owned())
}

/// Validates the request's token once; the claims are kept in the request extensions. Also
/// returns the guard, whose policy checks and realm the caller needs.
async fn authenticate(req: HttpRequest) -> Result<(Claims, Guard), Rejection> {
    let Some(guard) = req.app_data::<web::Data<Guard>>().map(|g| g.get_ref().clone()) else {
        return Err(Rejection { error: AuthError::Unavailable("no Guard in app data".into()), realm: "api".into() });
    };
    let reject = |error| Rejection { error, realm: guard.config().realm.clone() };
    if let Some(c) = req.extensions().get::<Claims>() {
        return Ok((c.clone(), guard.clone()));
    }
    let token = bearer(&req).map_err(reject)?;
    let claims = guard.validate(&token).await.map_err(reject)?;
    req.extensions_mut().insert(claims.clone());
    Ok((claims, guard.clone()))
}

impl FromRequest for Authenticated {
    type Error = Rejection;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Self, Rejection>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(req).await.map(|(claims, _)| Authenticated(claims)) })
    }
}

/// Middleware that refuses requests whose token does not meet `policy`.
#[derive(Debug, Clone)]
pub struct RequirePolicy {
    policy: Arc<Policy>,
}

impl RequirePolicy {
    /// Enforces `policy` on every request of the wrapped scope or resource.
    pub fn new(policy: Policy) -> Self {
        Self { policy: Arc::new(policy) }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequirePolicy
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequirePolicyService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequirePolicyService { service: Rc::new(service), policy: self.policy.clone() }))
    }
}

/// The service `RequirePolicy` wraps around.
pub struct RequirePolicyService<S> {
    service: Rc<S>,
    policy: Arc<Policy>,
}

impl<S, B> Service<ServiceRequest> for RequirePolicyService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Self::Response, actix_web::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let (service, policy) = (self.service.clone(), self.policy.clone());
        Box::pin(async move {
            // A refusal is answered here, so outer middleware sees an ordinary response.
            let checked = match authenticate(req.request().clone()).await {
                Ok((claims, guard)) => policy
                    .check(&claims, crate::now_secs())
                    .map_err(|error| Rejection { error, realm: guard.config().realm.clone() }),
                Err(rejection) => Err(rejection),
            };
            match checked {
                Ok(()) => service.call(req).await.map(ServiceResponse::map_into_left_body),
                Err(rejection) => Ok(req.error_response(rejection).map_into_right_body()),
            }
        })
    }
}
