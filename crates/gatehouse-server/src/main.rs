//! The `gatehouse` binary: `serve`, and the operator commands.

use std::process::ExitCode;

use clap::Parser;
use gatehouse_server::cli::Cli;

fn main() -> ExitCode {
    gatehouse_server::commands::run(Cli::parse())
}
