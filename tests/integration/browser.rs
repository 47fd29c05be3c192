//! The browser test layer: the real `gatehouse` binary driven by headless Chromium. Every
//! page (sign-in, consent, logout today; account, MFA, console and federation as they come)
//! is tested here, because an HTTP client sends no `Origin` as a browser does, enforces no
//! CSP and runs no script.

mod account;
mod console;
mod federation;
pub mod harness;
mod passkeys;
pub mod rp;
pub mod sign_in;
mod spa;

pub use harness::REQUIRE_VAR;
