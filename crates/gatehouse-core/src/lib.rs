//! Gatehouse domain and policy. No actix, no diesel: storage is reached through the traits in
//! [`store`], time and randomness are parameters, and every check names what it enforces.

pub mod account;
pub mod admin;
pub mod audit;
pub mod backup;
pub mod crypto;
pub mod federation;
pub mod flow;
pub mod jose;
pub mod keys;
pub mod mail;
pub mod mfa;
pub mod model;
pub mod oauth;
pub mod password;
pub mod store;
pub mod time;

pub use store::StoreError;
pub use time::UnixTime;
