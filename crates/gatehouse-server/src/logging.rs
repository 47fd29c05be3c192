//! Structured logs (L2): tracing, JSON when `log_format = "json"`. Each request runs in a span
//! carrying its request ID, so every line logged while serving it names the request. Secrets
//! are held in `Secret` and never formatted (see `gatehouse_types::Secret`).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber, writing to stderr (stdout is for command output).
/// `GATEHOUSE_LOG` overrides the configured level.
pub fn init(format: LogFormat, level: &str) {
    let filter = std::env::var("GATEHOUSE_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
