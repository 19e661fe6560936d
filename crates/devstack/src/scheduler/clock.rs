//! The local Scheduler's time: UTC instants (what schedules speak) mapped onto tokio's timer
//! (what the engine sleeps on).
//!
//! [`SystemClock`] reads the wall clock and converts each due instant into a tokio deadline
//! when the engine goes to sleep; [`TokioClock`] derives UTC from tokio's (possibly paused)
//! [`Instant`] and a fixed UTC base, so under `#[tokio::test(start_paused = true)]` the UTC
//! time moves exactly with `tokio::time::advance` and auto-advance, and hours of schedules run
//! in milliseconds.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

/// Where the Scheduler gets the time from.
pub trait Clock: fmt::Debug + Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// The tokio deadline at which it will be `at` (now, if `at` has passed).
    fn deadline(&self, at: DateTime<Utc>) -> Instant;

    /// The longest the engine sleeps in one go before it looks at the clock again. The wall
    /// clock may jump (a laptop's suspend stops tokio's monotonic clock, NTP steps it), so the
    /// system clock re-reads it every minute; a clock derived from tokio's needs no cap.
    fn max_nap(&self) -> Option<Duration>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn deadline(&self, at: DateTime<Utc>) -> Instant {
        let ahead = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        Instant::now() + ahead
    }

    fn max_nap(&self) -> Option<Duration> {
        Some(Duration::from_secs(60))
    }
}

/// UTC derived from tokio's clock: `base` at the tokio instant the clock was made, moving with
/// it (paused, advanced or real).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: DateTime<Utc>,
    origin: Instant,
}

impl TokioClock {
    /// A clock that reads `base` now.
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        Self {
            base,
            origin: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = TimeDelta::from_std(self.origin.elapsed()).unwrap_or(TimeDelta::MAX);
        self.base.checked_add_signed(elapsed).unwrap_or(self.base)
    }

    fn deadline(&self, at: DateTime<Utc>) -> Instant {
        let from_base = (at - self.base).to_std().unwrap_or(Duration::ZERO);
        self.origin + from_base
    }

    fn max_nap(&self) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_moves_with_paused_time() {
        let base = Utc
            .with_ymd_and_hms(2026, 3, 29, 0, 0, 0)
            .single()
            .expect("time");
        let clock = TokioClock::starting_at(base);
        assert_eq!(clock.now(), base);
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now(), base + TimeDelta::seconds(90));
        let due = base + TimeDelta::minutes(3);
        tokio::time::sleep_until(clock.deadline(due)).await;
        assert_eq!(clock.now(), due);
        // A past instant is due now.
        assert!(clock.deadline(base) <= Instant::now());
    }
}
