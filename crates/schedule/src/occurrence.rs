//! One occurrence of a schedule, named the same way on every side: the caller (the Lambda
//! function) sends it as `Idempotency-Key`, the app keys its run history on it, and the local
//! scheduler records its deliveries under it, so the three views of one occurrence join.
//!
//! The key is a name-based UUID (RFC 9562 §5.5, version 5) of the schedule's ARN and the
//! occurrence's nominal time in UTC at whole seconds: every retry of one occurrence (Scheduler's
//! and Lambda's alike) carries the same key, and two occurrences never share one.

use chrono::{DateTime, SecondsFormat, Utc};

/// The namespace of occurrence keys (a fixed random UUID: keys of other systems never collide
/// with ours).
const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6b1f_3c2e_9a4d_4f7b_8e21_5d0c_a7f3_9e64);

/// The nominal time as it appears in keys and headers: RFC 3339, UTC, whole seconds, `Z`
/// (the format of `<aws.scheduler.scheduled-time>`).
pub fn nominal_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The idempotency key of the occurrence of `schedule` (a Scheduler schedule ARN, or an
/// EventBridge rule ARN) due at `nominal`; sub-second parts of `nominal` are ignored.
pub fn key(schedule: &str, nominal: DateTime<Utc>) -> String {
    let name = format!("{schedule}\n{}", nominal_time(nominal));
    uuid::Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    const ARN: &str = "arn:aws:scheduler:eu-central-1:123456789012:schedule/default/bridge-ping";

    #[test]
    fn same_occurrence_same_key_whatever_the_subseconds() {
        let a = Utc
            .with_ymd_and_hms(2026, 12, 2, 5, 0, 0)
            .single()
            .expect("time");
        let b = a + chrono::Duration::milliseconds(999);
        assert_eq!(key(ARN, a), key(ARN, b));
        assert_eq!(nominal_time(b), "2026-12-02T05:00:00Z");
    }

    #[test]
    fn other_minute_or_schedule_other_key() {
        let a = Utc
            .with_ymd_and_hms(2026, 12, 2, 5, 0, 0)
            .single()
            .expect("time");
        let next = a + chrono::Duration::minutes(1);
        assert_ne!(key(ARN, a), key(ARN, next));
        assert_ne!(key(ARN, a), key(&format!("{ARN}-2"), a));
        let k = key(ARN, a);
        assert_eq!(k.len(), 36);
        assert_eq!(
            uuid::Uuid::parse_str(&k).expect("uuid").get_version_num(),
            5
        );
    }
}
