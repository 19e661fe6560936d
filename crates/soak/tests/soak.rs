//! The soak inside the normal test command: every target for a few thousand executions with
//! a fixed seed, no crash allowed. `cargo xtask soak` runs the long version.

use soak::{Options, PARSERS, Report};

/// Executions per target: enough to reach every generator branch, small enough for a debug
/// build (the whole file takes a few seconds).
const EXECS: u64 = 2_000;

fn soak(parser: &str) -> Report {
    let report = soak::run(parser, &Options::new(EXECS, 12), &mut |_| {})
        .unwrap_or_else(|| panic!("no target {parser}"));
    assert_eq!(report.executions, EXECS);
    if let Some(first) = report.failures.first() {
        panic!("{report}\n\n{}", first.message);
    }
    report
}

#[test]
fn jwt() {
    let r = soak("jwt");
    assert!(r.accepted > 0, "{r}");
}

#[test]
fn validate() {
    let r = soak("validate");
    assert!(r.accepted > 0, "{r}");
}

#[test]
fn odata() {
    let r = soak("odata");
    assert!(r.accepted > 0, "{r}");
}

#[test]
fn vcap() {
    let r = soak("vcap");
    assert!(r.accepted > 0, "{r}");
}

#[test]
fn sigv4() {
    let r = soak("sigv4");
    assert!(r.accepted > 0, "{r}");
}

#[test]
fn jwe() {
    let r = soak("jwe");
    assert!(r.accepted > 0, "{r}");
}

#[test]
fn iam() {
    let r = soak("iam");
    assert!(r.accepted > 0, "{r}");
}

#[test]
fn every_target_has_a_test_here() {
    let source = include_str!("soak.rs");
    for parser in PARSERS {
        assert!(source.contains(&format!("fn {parser}()")), "{parser}");
    }
}

#[test]
fn schedule() {
    let r = soak("schedule");
    assert!(r.accepted > 0 && r.accepted < r.executions, "{r}");
}
