//! `bootstrap`, the caller Lambda function for the `provided.al2023` runtime: everything is in
//! [`caller::runtime::run`]; this file only chooses the Tokio runtime and stdout.

use std::io::Write as _;

/// A single-threaded runtime: one invocation at a time, and the smallest start-up.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match caller::runtime::run(write_line).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::FAILURE,
    }
}

/// One log line to stdout (CloudWatch Logs under Lambda), written in one call.
fn write_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}
