//! Structured logs (L2): tracing, JSON when `log_format = "json"`. Each request runs in a span
//! carrying its request ID, so every line logged while serving it names the request. Secrets
//! are held in `Secret` and never formatted (see `gatehouse_types::Secret`).

use std::io::{BufWriter, Stderr};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Lines waiting for the log thread before request threads wait for it (never dropped).
const BUFFERED_LINES: usize = 64 * 1024;

/// Keeps the log thread alive; dropping it writes out every queued line.
#[must_use = "logs are flushed when the guard is dropped"]
pub struct LogGuard {
    _worker: Option<WorkerGuard>,
}

/// Installs the global subscriber, writing to stderr (stdout is for command output).
/// `GATEHOUSE_LOG` overrides the configured level. The server logs through a writer thread
/// that batches lines into few `write(2)` calls, so request threads only format (with info
/// logging the synchronous writes cost ~15 % of token-endpoint throughput); commands write
/// directly, so their warnings interleave correctly with their output.
pub fn init(format: LogFormat, level: &str, background: bool) -> LogGuard {
    let filter = std::env::var("GATEHOUSE_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")));
    if background {
        let (writer, guard) = NonBlockingBuilder::default()
            .lossy(false)
            .buffered_lines_limit(BUFFERED_LINES)
            .thread_name("gatehouse-log")
            .finish(BufWriter::new(std::io::stderr()));
        install(format, filter, writer);
        LogGuard { _worker: Some(guard) }
    } else {
        install(format, filter, std::io::stderr as fn() -> Stderr);
        LogGuard { _worker: None }
    }
}

fn install<W>(format: LogFormat, filter: EnvFilter, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
