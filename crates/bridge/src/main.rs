//! The `bridge` binary: parses the command line, sets up logging and hands over to the library.

use clap::Parser as _;

/// mimalloc (Microsoft's allocator, thread-local free lists) instead of glibc's malloc: a page
/// of documents allocates a few thousand small values on one thread and frees them on
/// another, and glibc's arenas spent about a fifth of `bridge serve`'s CPU on it (perf, under
/// `cargo bench -p bridge --bench documents`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = bridge::cli::Cli::parse();
    bridge::telemetry::init();
    bridge::cli::run(cli)
}
