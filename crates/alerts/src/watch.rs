//! Which occurrences deserve an alert. No IO and no clock: the caller passes the time, the
//! schedules and what its run history saw.
//!
//! An occurrence is judged once its *horizon* has passed (its nominal time plus the schedule's
//! flexible window plus the retry budget, [`Watched::horizon`]): by then every retry has
//! arrived or never will. Then:
//! - no run and no delivery under its idempotency key → [`AlertKind::Missed`];
//! - its run failed (after every retry) → [`AlertKind::RunFailed`];
//! - it was dead-lettered (Scheduler's queue or Lambda's on-failure destination) →
//!   [`AlertKind::DeadLettered`].
//!
//! `rate()` schedules are anchored at their creation at AWS, which the app does not know, so
//! their occurrence times are not predictable to the second; for them silence is judged by
//! the last arrival: no run for longer than the interval plus the horizon is one `Missed`
//! alert for the occurrence that was expected (one per silence, as its key stays the same).

use std::time::Duration;

use chrono::{DateTime, Utc};
use schedule::{Expression, Schedule, occurrence};

/// A schedule the app watches.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The schedule's name.
    pub name: String,
    /// Its ARN (`arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}`).
    pub arn: String,
    /// Its expression, zone and bounds.
    pub schedule: Schedule,
    /// How long after its nominal time an occurrence may still arrive: the flexible window
    /// plus the retry budget.
    pub horizon: Duration,
}

/// What the run history saw of one occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A run succeeded.
    Succeeded,
    /// A run is still going.
    Running,
    /// The last run failed.
    Failed {
        /// The HTTP status the job answered, if it answered.
        status: Option<u16>,
        /// What went wrong (no secrets).
        error: String,
        /// How many times the occurrence arrived.
        attempts: u32,
    },
    /// The event was dead-lettered.
    DeadLettered {
        /// Why, as the queue's record says.
        reason: String,
    },
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AlertKind {
    /// The occurrence's run failed after its retries.
    RunFailed,
    /// The occurrence's event was dead-lettered.
    DeadLettered,
    /// The occurrence never arrived.
    Missed,
}

impl AlertKind {
    /// The alert's `eventType`.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::RunFailed => "BridgeScheduledRunFailed",
            Self::DeadLettered => "BridgeScheduledEventDeadLettered",
            Self::Missed => "BridgeScheduledOccurrenceMissed",
        }
    }

    /// A short name (`failed`, `dead-lettered`, `missed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunFailed => "failed",
            Self::DeadLettered => "dead-lettered",
            Self::Missed => "missed",
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// What it is about.
    pub kind: AlertKind,
    /// The schedule's name.
    pub schedule: String,
    /// The schedule's ARN.
    pub schedule_arn: String,
    /// The occurrence's nominal time.
    pub nominal: DateTime<Utc>,
    /// The occurrence's idempotency key ([`schedule::occurrence::key`]).
    pub key: String,
    /// What was seen, in a sentence.
    pub detail: String,
}

impl Alert {
    /// The alert's subject line.
    pub fn subject(&self) -> String {
        let at = occurrence::nominal_time(self.nominal);
        match self.kind {
            AlertKind::RunFailed => format!("Scheduled call {} of {at} failed", self.schedule),
            AlertKind::DeadLettered => {
                format!("Scheduled call {} of {at} was dead-lettered", self.schedule)
            }
            AlertKind::Missed => format!("Scheduled call {} of {at} never arrived", self.schedule),
        }
    }

    /// A key that is the same for the same alert however often it is found (the deduplication
    /// key, ANS's `ans:sourceEventId`).
    pub fn dedup_key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.key)
    }
}

/// The alerts due at `now` for the occurrences whose horizon passed after `since` (the
/// previous check's `now`, or the app's start) and by `now`, at most `limit` of them, oldest
/// first. `seen` looks up an
/// idempotency key; `last_arrival` tells when anything last arrived for a schedule ARN.
pub fn due(
    watched: &[Watched],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    seen: &dyn Fn(&str) -> Option<Seen>,
    last_arrival: &dyn Fn(&str) -> Option<DateTime<Utc>>,
    limit: usize,
) -> Vec<Alert> {
    let mut out = Vec::new();
    for w in watched {
        let horizon = chrono::Duration::from_std(w.horizon).unwrap_or(chrono::Duration::MAX);
        if let Expression::Rate(every) = &w.schedule.expression {
            let every = chrono::Duration::from_std(*every).unwrap_or(chrono::Duration::MAX);
            let last = last_arrival(&w.arn).unwrap_or(since);
            let expected = last + every;
            let in_bounds = w.schedule.end.is_none_or(|end| expected <= end)
                && w.schedule.start.is_none_or(|start| expected >= start);
            if in_bounds && expected + horizon <= now {
                let key = occurrence::key(&w.arn, expected);
                out.push(Alert {
                    kind: AlertKind::Missed,
                    schedule: w.name.clone(),
                    schedule_arn: w.arn.clone(),
                    nominal: expected,
                    key,
                    detail: format!(
                        "nothing arrived for {} since {}; it runs every {} s",
                        w.name,
                        occurrence::nominal_time(last),
                        every.num_seconds()
                    ),
                });
            }
            continue;
        }
        // Judged now: occurrences whose horizon passed after the previous check and by now.
        let (from, until) = (since - horizon, now - horizon);
        if until <= from {
            continue;
        }
        for nominal in w.schedule.occurrences(from, from, limit) {
            if nominal > until || out.len() >= limit {
                break;
            }
            let key = occurrence::key(&w.arn, nominal);
            let (kind, detail) = match seen(&key) {
                Some(Seen::Succeeded | Seen::Running) => continue,
                None => (
                    AlertKind::Missed,
                    format!(
                        "no call arrived within {} s of its time",
                        w.horizon.as_secs()
                    ),
                ),
                Some(Seen::Failed {
                    status,
                    error,
                    attempts,
                }) => (
                    AlertKind::RunFailed,
                    format!(
                        "failed after {attempts} attempt(s){}: {error}",
                        status.map_or_else(String::new, |s| format!(" (HTTP {s})"))
                    ),
                ),
                Some(Seen::DeadLettered { reason }) => {
                    (AlertKind::DeadLettered, format!("dead-lettered: {reason}"))
                }
            };
            out.push(Alert {
                kind,
                schedule: w.name.clone(),
                schedule_arn: w.arn.clone(),
                nominal,
                key,
                detail,
            });
        }
    }
    out.sort_by_key(|a| a.nominal);
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    const ARN: &str = "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/nightly";

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, h, m, 0)
            .single()
            .expect("time")
    }

    fn cron(expr: &str) -> Watched {
        Watched {
            name: "nightly".into(),
            arn: ARN.into(),
            schedule: Schedule::new(expr, None).expect("schedule"),
            horizon: Duration::from_secs(600),
        }
    }

    #[test]
    fn each_outcome_of_a_cron_occurrence_after_its_horizon() {
        let w = [cron("cron(0 * * * ? *)")];
        let k = |h| occurrence::key(ARN, at(h, 0));
        let (k1, k2, k3) = (k(1), k(2), k(3));
        let seen = |key: &str| {
            if key == k1 {
                Some(Seen::Succeeded)
            } else if key == k2 {
                Some(Seen::Failed {
                    status: Some(503),
                    error: "unavailable".into(),
                    attempts: 3,
                })
            } else if key == k3 {
                Some(Seen::DeadLettered {
                    reason: "RetriesExhausted".into(),
                })
            } else {
                None
            }
        };
        // 05:05: the 05:00 occurrence is still within its horizon.
        let alerts = due(&w, at(0, 30), at(5, 5), &seen, &|_| None, 100);
        let got: Vec<_> = alerts.iter().map(|a| (a.kind, a.nominal)).collect();
        assert_eq!(
            got,
            vec![
                (AlertKind::RunFailed, at(2, 0)),
                (AlertKind::DeadLettered, at(3, 0)),
                (AlertKind::Missed, at(4, 0)),
            ]
        );
        assert!(alerts[0].detail.contains("3 attempt(s) (HTTP 503)"));
        assert_eq!(
            alerts[2].subject(),
            "Scheduled call nightly of 2026-12-02T04:00:00Z never arrived"
        );
        // The next check starts where this one ended: nothing twice.
        let again = due(&w, at(5, 5), at(5, 9), &seen, &|_| None, 100);
        assert!(again.is_empty());
        let later = due(&w, at(5, 5), at(5, 11), &seen, &|_| None, 100);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].nominal, at(5, 0));
    }

    #[test]
    fn rate_schedules_alert_on_silence_once() {
        let w = [Watched {
            name: "ping".into(),
            arn: ARN.into(),
            schedule: Schedule::new("rate(5 minutes)", None).expect("s"),
            horizon: Duration::from_secs(120),
        }];
        let last = |_: &str| Some(at(1, 0));
        assert!(due(&w, at(0, 0), at(1, 6), &|_| None, &last, 10).is_empty());
        let a = due(&w, at(0, 0), at(1, 7), &|_| None, &last, 10);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].kind, AlertKind::Missed);
        assert_eq!(a[0].nominal, at(1, 5));
        let b = due(&w, at(1, 7), at(1, 30), &|_| None, &last, 10);
        assert_eq!(a[0].dedup_key(), b[0].dedup_key(), "one silence, one key");
    }

    #[test]
    fn limit_bounds_the_work_after_a_long_outage() {
        let w = [cron("cron(* * * * ? *)")];
        let alerts = due(&w, at(0, 0), at(23, 0), &|_| None, &|_| None, 50);
        assert_eq!(alerts.len(), 50);
        // The first judged occurrence is the first whose horizon (10 min) ended after 00:00.
        assert_eq!(alerts[0].nominal, at(0, 0) - chrono::Duration::minutes(9));
    }
}
