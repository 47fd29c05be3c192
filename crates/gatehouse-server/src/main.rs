//! The `gatehouse` binary: `serve`, and the operator commands.

use std::process::ExitCode;

use clap::Parser;
use gatehouse_server::cli::Cli;

/// mimalloc: the request path allocates many small, short-lived buffers across threads, where
/// glibc's allocator spent about a tenth of the token endpoint's CPU (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    gatehouse_server::commands::run(Cli::parse())
}
