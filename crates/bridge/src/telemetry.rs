//! Logging set-up, the same for every subcommand: `RUST_LOG` through `EnvFilter` (default: our
//! crates at `info`), human-readable lines on stderr, or JSON lines with `LOG_FORMAT=json` (as
//! on Cloud Foundry). Stdout stays free for command output.

use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "warn,bridge=info,devstack=info,credstore=info,cfenv=info";

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().with_target(false).try_init()
    };
}
