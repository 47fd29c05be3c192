//! HTTP, TLS and CLI integration tests of the `gatehouse` server: one test binary, a real
//! in-process HTTPS server per test on port 0, and the real `gatehouse` binary for the CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account;
mod admin_api;
mod admin_objects;
mod browser;
mod cli;
mod code_flow;
pub mod federation;
mod hardening;
mod http;
mod lockout;
mod mfa;
mod oauth;
mod oidc_rp;
mod self_service;
mod smtp;
mod support;
mod tls;
