//! The `bridge` binary: parses the command line, sets up logging and hands over to the library.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = bridge::cli::Cli::parse();
    bridge::telemetry::init();
    bridge::cli::run(cli)
}
