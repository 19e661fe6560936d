//! The targets, one module per parser family, and the registry that runs them by name.

mod iam;
mod jose;
mod jwe;
mod jwt;
mod odata;
mod schedule;
mod sigv4;
mod validate;
mod vcap;

use crate::harness::{self, Options, Report, Verdict};

/// Every target, in the order `cargo xtask soak` runs them.
pub const PARSERS: &[&str] = &[
    "jwt", "validate", "odata", "vcap", "sigv4", "jwe", "iam", "schedule",
];

/// Runs the target `parser` (`None` if there is no such target); `progress` is called about
/// every 10 s with the figures so far.
pub fn run(parser: &str, options: &Options, progress: &mut dyn FnMut(&Report)) -> Option<Report> {
    Some(match parser {
        "jwt" => harness::run(jwt::Jwt::new(), options, progress),
        "validate" => harness::run(validate::Validate::new(), options, progress),
        "odata" => harness::run(odata::OData::new(), options, progress),
        "vcap" => harness::run(vcap::Vcap::new(), options, progress),
        "sigv4" => harness::run(sigv4::SigV4::new(), options, progress),
        "jwe" => harness::run(jwe::Jwe::new(), options, progress),
        "iam" => harness::run(iam::Iam::new(), options, progress),
        "schedule" => harness::run(schedule::ScheduleTarget::new(), options, progress),
        _ => return None,
    })
}

/// Executes a saved input of `parser` once: the verdict, or the panic (`None` if there is no
/// such target).
pub fn replay(parser: &str, bytes: &[u8]) -> Option<Result<Verdict, String>> {
    Some(match parser {
        "jwt" => harness::replay(jwt::Jwt::new(), bytes),
        "validate" => harness::replay(validate::Validate::new(), bytes),
        "odata" => harness::replay(odata::OData::new(), bytes),
        "vcap" => harness::replay(vcap::Vcap::new(), bytes),
        "sigv4" => harness::replay(sigv4::SigV4::new(), bytes),
        "jwe" => harness::replay(jwe::Jwe::new(), bytes),
        "iam" => harness::replay(iam::Iam::new(), bytes),
        "schedule" => harness::replay(schedule::ScheduleTarget::new(), bytes),
        _ => return None,
    })
}

/// Keeps `input` in a bounded pool, replacing a random entry when full.
fn keep_in<T>(pool: &mut Vec<T>, input: T, rng: &mut fastrand::Rng) {
    const POOL: usize = 256;
    if pool.len() < POOL {
        pool.push(input);
    } else {
        let i = rng.usize(..POOL);
        pool[i] = input;
    }
}

/// Bytes as a JSON string, one character per byte (Latin-1), so crash files stay text.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|b| char::from(*b)).collect()
}

/// The inverse of [`latin1`]; `None` for characters above U+00FF.
fn from_latin1(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(c).ok()).collect()
}
