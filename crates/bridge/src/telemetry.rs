//! Logging set-up, the same for every subcommand: `RUST_LOG` through `EnvFilter` (default: our
//! crates at `info`), human-readable lines on stderr, or JSON lines with `LOG_FORMAT=json`.
//! On Cloud Foundry (`VCAP_APPLICATION` set) JSON is the default, so the platform's log
//! pipeline gets structured lines; `LOG_FORMAT=text` turns it off. Stdout stays free for
//! command output. Text lines are coloured only when stderr is a terminal and `NO_COLOR` is
//! unset or empty (<https://no-color.org/>), so logs piped to a file or collected by a parent
//! process hold no ANSI escape codes.
//! Whatever the filter, [`cap`] keeps `aws_sigv4`'s TRACE events (unredacted canonical
//! requests) out.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterFn, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The filter used when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str =
    "warn,bridge=info,devstack=info,credstore=info,cfenv=info,awslink=info";

/// The cap on top of every filter, whatever `RUST_LOG` says: `aws_sigv4` logs each canonical
/// request at TRACE; it redacts header values but not the query, and a presigned URL's query
/// holds the session token (`X-Amz-Security-Token`), so its TRACE events never pass.
pub fn cap() -> FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool + Clone> {
    filter_fn(|meta: &tracing::Metadata<'_>| {
        !(*meta.level() == tracing::Level::TRACE && meta.target().starts_with("aws_sigv4"))
    })
}

/// `RUST_LOG`, or [`DEFAULT_FILTER`] when it is unset or invalid.
fn filter(rust_log: Option<&str>) -> EnvFilter {
    rust_log
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER))
}

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init() {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
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
        builder
            .json()
            .flatten_event(true)
            .finish()
            .with(cap())
            .try_init()
    } else {
        builder
            .compact()
            .with_target(false)
            .finish()
            .with(cap())
            .try_init()
    };
}

/// Whether log lines get ANSI colours: only on a terminal, and not when `NO_COLOR` is set to a
/// non-empty value (<https://no-color.org/>).
fn colour(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::{cap, colour, filter};
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt as _;

    /// What a subscriber with `filter(rust_log)` writes for one event per (target, level).
    fn written(rust_log: Option<&str>) -> String {
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter(rust_log))
            .with_ansi(false)
            .with_writer(move || out.clone())
            .finish()
            .with(cap());
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "aws_sigv4::http_request::sign", "sigv4-trace");
            tracing::debug!(target: "aws_sigv4::http_request::sign", "sigv4-debug");
            tracing::trace!(target: "bridge::app", "bridge-trace");
        });
        let bytes = buf.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn sigv4_trace_never_passes() {
        for rust_log in ["trace", "aws_sigv4=trace", "trace,aws_sigv4=trace"] {
            let out = written(Some(rust_log));
            assert!(!out.contains("sigv4-trace"), "{rust_log}: {out}");
            assert!(out.contains("sigv4-debug"), "{rust_log}: {out}");
        }
        assert!(written(Some("trace")).contains("bridge-trace"));
        let default = written(None);
        assert!(
            !default.contains("sigv4") && !default.contains("bridge-trace"),
            "{default}"
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
