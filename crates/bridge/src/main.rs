//! The `bridge` binary: parses the command line, sets up logging and hands over to the library.

use clap::Parser as _;

/// mimalloc (Microsoft's allocator, thread-local free lists) instead of glibc's malloc, for
/// Rust and, through its `override` feature (glibc supports replacing malloc by symbol
/// interposition), for the bundled SQLite: a page of documents is a few thousand small
/// allocations (sqlx copies every column value of every row), made on the connection's thread
/// and freed on another, and glibc's malloc took about a fifth of `bridge serve`'s CPU for it
/// (perf, under `cargo bench -p bridge --bench documents`). Test binaries that link the
/// `bridge` library get mimalloc's malloc too. Built without transparent huge pages
/// (`no_thp`): with them every segment a thread touched became resident 2 MiB at a time, and
/// the idle app held 64 MiB instead of 33 MiB. Upload part buffers are reused within an
/// upload (awslink's `Parts::recycle`), so a transfer's peak RSS does not depend on when the
/// allocator returns freed 8 MiB buffers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = bridge::cli::Cli::parse();
    bridge::telemetry::init();
    bridge::cli::run(cli)
}
