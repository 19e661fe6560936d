//! The retry policy, pure: which answers are retried, how long to wait, when to give up. The
//! clock and the random numbers are parameters, so the tables below pin every decision.
//!
//! - **Retried**: connection failures (DNS, connect, TLS, reset), HTTP 429, 502, 503 and 504.
//!   A 401 is retried once, immediately, with a freshly fetched token (the cached one may have
//!   been revoked or signed with a rotated key). Every other status is final: 2xx success
//!   (202: accepted, the job runs on), other 4xx, 3xx (redirects are not followed: a token is
//!   never sent anywhere but the configured app) and other 5xx.
//! - **Waiting**: exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS
//!   Architecture Blog,
//!   <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>): before retry
//!   `n` (1-based) wait a uniformly random time in `[0, min(cap, base · 2^(n-1))]`. A 429 with
//!   `Retry-After` (seconds or an HTTP date, RFC 9110 §10.2.3) waits exactly that long.
//! - **Giving up**: after [`Policy::max_attempts`] attempts, or when the wait plus
//!   [`Policy::min_attempt`] would not fit before the end of the invocation's budget (the
//!   deadline minus the margin kept for reporting): the error then says what the last answer
//!   was, and Lambda's or Scheduler's own retries deliver the occurrence again later, with the
//!   same idempotency key.

use std::time::{Duration, SystemTime};

/// The knobs of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The first backoff's upper bound.
    pub base: Duration,
    /// The largest backoff.
    pub cap: Duration,
    /// Most HTTP attempts per invocation (the token-refresh retry after a 401 included).
    pub max_attempts: u32,
    /// An attempt is only started with at least this much budget left.
    pub min_attempt: Duration,
    /// Kept free before the invocation's deadline to report the result.
    pub reserve: Duration,
}

impl Policy {
    /// The caller's policy: backoff from 200 ms up to 5 s, at most 5 attempts, an attempt needs
    /// 250 ms, 500 ms kept for reporting.
    pub const DEFAULT: Policy = Policy {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(5),
        max_attempts: 5,
        min_attempt: Duration::from_millis(250),
        reserve: Duration::from_millis(500),
    };
}

impl Default for Policy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What an attempt's outcome means for the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx: done.
    Success,
    /// 401: refresh the token once and try again at once.
    Unauthorized,
    /// 429: retry, after `Retry-After` when given.
    Throttled,
    /// 502, 503, 504 or a connection failure: retry after a backoff.
    Transient,
    /// Anything else: final.
    Final,
}

/// Classifies an HTTP status.
pub fn classify(status: u16) -> Class {
    match status {
        200..=299 => Class::Success,
        401 => Class::Unauthorized,
        429 => Class::Throttled,
        502..=504 => Class::Transient,
        _ => Class::Final,
    }
}

/// The backoff before retry number `retry` (1 = the first retry), with `unit` a uniformly
/// random number in `[0, 1)`.
pub fn backoff(policy: &Policy, retry: u32, unit: f64) -> Duration {
    let exp = 2u32.saturating_pow(retry.saturating_sub(1));
    let ceiling = policy.base.saturating_mul(exp).min(policy.cap);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

/// How long a `Retry-After` value asks to wait: delay-seconds, or an HTTP date (IMF-fixdate,
/// RFC 850 or asctime) counted from `now` (a date in the past: no wait). `None`: not a valid
/// value, which is treated as absent.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long numbers saturate; the budget check gives up on them anyway.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The decision after a retryable outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then make attempt number `attempts + 1`.
    RetryAfter(Duration),
    /// Stop: attempts are used up.
    OutOfAttempts,
    /// Stop: the wait and another attempt do not fit in the budget left.
    OutOfTime,
}

/// What to do after `attempts` attempts whose last one was retryable, with `left` of the
/// budget remaining: `asked` is the server's `Retry-After`, `unit` a uniformly random number
/// in `[0, 1)` for the jitter.
pub fn next(
    policy: &Policy,
    attempts: u32,
    asked: Option<Duration>,
    left: Duration,
    unit: f64,
) -> Next {
    if attempts >= policy.max_attempts {
        return Next::OutOfAttempts;
    }
    let wait = asked.unwrap_or_else(|| backoff(policy, attempts, unit));
    match wait.checked_add(policy.min_attempt) {
        Some(needed) if needed <= left => Next::RetryAfter(wait),
        _ => Next::OutOfTime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn statuses() {
        let table = [
            (200, Class::Success),
            (201, Class::Success),
            (202, Class::Success),
            (204, Class::Success),
            (301, Class::Final),
            (304, Class::Final),
            (400, Class::Final),
            (401, Class::Unauthorized),
            (403, Class::Final),
            (404, Class::Final),
            (408, Class::Final),
            (409, Class::Final),
            (429, Class::Throttled),
            (500, Class::Final),
            (501, Class::Final),
            (502, Class::Transient),
            (503, Class::Transient),
            (504, Class::Transient),
            (505, Class::Final),
        ];
        for (status, class) in table {
            assert_eq!(classify(status), class, "{status}");
        }
    }

    #[test]
    fn full_jitter_backoff_grows_to_the_cap() {
        let p = Policy::DEFAULT;
        let table = [
            (1, 0.0, MS(0)),
            (1, 0.5, MS(100)),
            (1, 0.999_999, MS(199)),
            (2, 0.5, MS(200)),
            (3, 0.5, MS(400)),
            (4, 1.0, MS(1600)),
            (5, 1.0, MS(3200)),
            (6, 1.0, MS(5000)),
            (40, 1.0, MS(5000)),
            (u32::MAX, 0.5, MS(2500)),
        ];
        for (retry, unit, want) in table {
            let got = backoff(&p, retry, unit);
            assert!(
                got.abs_diff(want) < MS(1),
                "retry {retry} unit {unit}: {got:?} != {want:?}"
            );
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        let table: [(&str, Option<Duration>); 9] = [
            ("120", Some(Duration::from_secs(120))),
            (" 0 ", Some(Duration::ZERO)),
            (
                "Sun, 06 Nov 1994 08:50:37 GMT",
                Some(Duration::from_secs(60)),
            ),
            (
                "Sunday, 06-Nov-94 08:49:47 GMT",
                Some(Duration::from_secs(10)),
            ),
            ("Sun Nov  6 08:49:39 1994", Some(Duration::from_secs(2))),
            ("Sun, 06 Nov 1994 08:00:00 GMT", Some(Duration::ZERO)),
            ("-1", None),
            ("1.5", None),
            ("soon", None),
        ];
        for (value, want) in table {
            assert_eq!(retry_after(value, now), want, "{value:?}");
        }
        assert_eq!(
            retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn when_to_stop() {
        let p = Policy::DEFAULT;
        let s = Duration::from_secs;
        let table = [
            // attempts, Retry-After, budget left, unit → decision
            (1, None, s(10), 0.5, Next::RetryAfter(MS(100))),
            (2, None, s(10), 0.5, Next::RetryAfter(MS(200))),
            (4, None, s(10), 1.0, Next::RetryAfter(MS(1600))),
            (5, None, s(10), 0.5, Next::OutOfAttempts),
            (1, Some(s(2)), s(10), 0.5, Next::RetryAfter(s(2))),
            (1, Some(s(2)), MS(2249), 0.5, Next::OutOfTime),
            (1, Some(s(2)), MS(2250), 0.5, Next::RetryAfter(s(2))),
            (1, Some(Duration::MAX), s(10), 0.5, Next::OutOfTime),
            (1, None, MS(300), 0.5, Next::OutOfTime),
            (1, None, MS(350), 0.5, Next::RetryAfter(MS(100))),
            (1, None, Duration::ZERO, 0.0, Next::OutOfTime),
        ];
        for (attempts, asked, left, unit, want) in table {
            assert_eq!(
                next(&p, attempts, asked, left, unit),
                want,
                "{attempts} {asked:?} {left:?} {unit}"
            );
        }
    }
}
