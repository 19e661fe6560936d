//! One module per subcommand, with its clap arguments and its work (`dev` and `rotate` only
//! with the `dev` feature). Each returns an exit code and prints its result to stdout; errors
//! go to stderr as one `error: …` line (with its causes), never with secret values.

pub mod creds;
#[cfg(feature = "dev")]
pub mod dev;
pub mod docs;
pub mod env;
#[cfg(feature = "dev")]
pub mod rotate;
pub mod runs;
pub mod schedule;
pub mod serve;
pub mod token;

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
    eprintln!("error: {}", describe(err));
}

/// The error and its causes on one line, `: `-separated, skipping a cause whose text the line
/// already holds (many error types repeat their source in their own message).
pub fn describe(err: &anyhow::Error) -> String {
    cfenv::text::chain(err.as_ref())
}

/// Resolves on Ctrl-C or SIGTERM (Cloud Foundry and Kubernetes stop with SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
