//! Logging set-up, the same for every subcommand: `RUST_LOG` through `EnvFilter` (default: our
//! crates at `info`), human-readable lines on stderr, or JSON lines with `LOG_FORMAT=json`.
//! On Cloud Foundry (`VCAP_APPLICATION` set) JSON is the default, so the platform's log
//! pipeline gets structured lines; `LOG_FORMAT=text` turns it off. Stdout stays free for
//! command output. Text lines are coloured only when stderr is a terminal and `NO_COLOR` is
//! unset or empty (<https://no-color.org/>), so logs piped to a file or collected by a parent
//! process hold no ANSI escape codes.

use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str =
    "warn,bridge=info,devstack=info,credstore=info,cfenv=info,awslink=info";

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = match std::env::var("LOG_FORMAT") {
        Ok(v) => v.eq_ignore_ascii_case("json"),
        Err(_) => std::env::var_os("VCAP_APPLICATION").is_some(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR"),
        ));
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().with_target(false).try_init()
    };
}

/// Whether log lines get ANSI colours: only on a terminal, and not when `NO_COLOR` is set to a
/// non-empty value (<https://no-color.org/>).
fn colour(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
