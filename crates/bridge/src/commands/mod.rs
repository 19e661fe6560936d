//! One module per subcommand. Each returns an exit code and prints its result to stdout; errors
//! go to stderr as one `error: …` line (with its causes), never with secret values.

pub mod creds;
pub mod dev;
pub mod env;

use std::process::ExitCode;

/// Exit code for bad usage or configuration (as clap uses).
pub const USAGE: u8 = 2;

/// Prints an operation failure and returns exit code 1.
pub fn fail(err: &anyhow::Error) -> ExitCode {
    report(err);
    ExitCode::FAILURE
}

/// Prints a configuration failure and returns exit code 2.
pub fn misconfigured(err: &anyhow::Error) -> ExitCode {
    report(err);
    ExitCode::from(USAGE)
}

#[allow(clippy::print_stderr)]
fn report(err: &anyhow::Error) {
    eprintln!("error: {err:#}");
}
