//! The admin console's pages (AC1–AC6): askama templates and the plain data they show, plus the
//! parsing of what their forms send. No I/O: the server authenticates the administrator,
//! checks the permission table, runs the core use case and fills these pages, so the console
//! and the admin API share one implementation of every action.
//!
//! Pages are server-rendered HTML under the strict page CSP (no script at all), usable by
//! keyboard (a skip link, native controls, visible focus), labelled for screen readers
//! (every control has a label, tables have header cells, notices are live regions) and
//! readable on a phone (one column, tables scroll sideways).

mod form;
mod pages;

pub use form::{datetime_local, lines, words};
pub use pages::*;

/// The console's stylesheet, served at `/assets/console.css`.
pub const CONSOLE_CSS: &str = include_str!("../assets/console.css");
