//! RFC 9457 problem details: every error of the admin API is `application/problem+json` with a
//! fixed title per kind (L1): nothing from the request or the database reaches the body
//! except the request's correlation id.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_types::ProtocolError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::errors::{PublicBody, request_id};

/// An RFC 9457 problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    /// An explanation fit for the caller: fixed, or the text of the rule the input broke
    /// (core's texts, which never repeat the input).
    pub detail: Option<Cow<'static, str>>,
}

/// The body of a problem (RFC 9457 §3.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemBody {
    /// Always `about:blank`: the status and title say what happened.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request's correlation id (in the server log with the private detail).
    pub instance: String,
}

impl Problem {
    pub const fn new(status: StatusCode, title: &'static str) -> Self {
        Self { status, title, detail: None }
    }

    pub const fn explained(status: StatusCode, title: &'static str, detail: &'static str) -> Self {
        Self { status, title, detail: Some(Cow::Borrowed(detail)) }
    }

    /// 400 naming the rule the input broke.
    pub fn invalid(rule: String) -> Self {
        Self { detail: Some(Cow::Owned(rule)), ..Self::INVALID }
    }

    pub const UNAUTHORIZED: Self = Self::new(StatusCode::UNAUTHORIZED, "Authentication required");
    pub const FORBIDDEN: Self = Self::new(StatusCode::FORBIDDEN, "Forbidden");
    pub const NOT_FOUND: Self = Self::new(StatusCode::NOT_FOUND, "Not found");
    pub const INVALID: Self = Self::new(StatusCode::BAD_REQUEST, "Invalid request");
    pub const CONFLICT: Self = Self::new(StatusCode::CONFLICT, "Conflict");
    pub const PRECONDITION_REQUIRED: Self = Self::explained(
        StatusCode::PRECONDITION_REQUIRED,
        "Precondition required",
        "send If-Match with the ETag of the resource you read",
    );
    pub const PRECONDITION_FAILED: Self = Self::explained(
        StatusCode::PRECONDITION_FAILED,
        "Precondition failed",
        "the resource changed since you read it; read it again",
    );
    pub const SERVER: Self = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error");

    /// The response for `req`.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let body = ProblemBody {
            kind: "about:blank",
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.as_deref().map(str::to_owned),
            instance: format!("urn:gatehouse:request:{}", request_id(req)),
        };
        let mut res = HttpResponse::build(self.status).content_type("application/problem+json").json(body);
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"gatehouse-admin\""));
        }
        res.extensions_mut().insert(PublicBody);
        res
    }
}

/// An internal failure: logged with its detail, answered with the generic problem.
pub fn internal(req: &HttpRequest, e: &ProtocolError) -> HttpResponse {
    tracing::error!(error = %e, "admin API failed");
    Problem::SERVER.respond(req)
}
