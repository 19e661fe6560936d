//! `cron(Minutes Hours Day-of-month Month Day-of-week Year)` as EventBridge and EventBridge
//! Scheduler read it ("Cron expressions reference", Amazon EventBridge User Guide,
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html>;
//! what the code relies on is summarised in `docs/protocols.md` §EventBridge Scheduler):
//!
//! | field | values | wildcards |
//! |---|---|---|
//! | Minutes | 0–59 | `, - * /` |
//! | Hours | 0–23 | `, - * /` |
//! | Day-of-month | 1–31 | `, - * ? / L W` |
//! | Month | 1–12 or JAN–DEC | `, - * /` |
//! | Day-of-week | 1–7 or SUN–SAT (1 = Sunday) | `, - * ? L #` |
//! | Year | 1970–2199 | `, - * /` |
//!
//! Exactly one of Day-of-month and Day-of-week is `?`. `a/b` starts at `a` and steps by `b`;
//! ranges may wrap (`22-2` hours); `L` is the month's last day (Day-of-month), Saturday alone
//! or the last such weekday of the month as `6L` (Day-of-week); `15W` is the weekday nearest
//! the 15th, within the month; `3#2` the second Tuesday, and `#` stands alone in its field.
//! Names are case-insensitive.
//!
//! [`Cron::next_local`] walks local calendar days (skipping whole years and months that
//! cannot match) and returns the first local minute that matches; the time zone's handling
//! of gaps and repeats is [`crate::Schedule`]'s.

use chrono::{Datelike as _, NaiveDate, NaiveDateTime, NaiveTime};

use crate::error::{Error, quote};

/// The first and last year a cron expression may name.
pub const YEARS: (i32, i32) = (1970, 2199);

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    dom: DayOfMonth,
    months: u16,
    dow: DayOfWeek,
    /// Bit `y - 1970` for each year.
    years: [u64; 4],
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfMonth {
    /// `?`: Day-of-week decides.
    Unspecified,
    /// Bit `d` for each day 1–31.
    Days(u32),
    /// `L`: the last day of the month.
    Last,
    /// `nW`: the weekday nearest day `n`, within the month.
    NearestWeekday(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfWeek {
    /// `?`: Day-of-month decides.
    Unspecified,
    /// Bit `d` for each day 1–7 (1 = Sunday).
    Days(u8),
    /// `nL`: the last weekday `n` of the month.
    Last(u32),
    /// `n#k`: the `k`-th weekday `n` of the month.
    Nth(u32, u32),
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One numeric field's rules.
struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

impl FieldSpec {
    fn field(&self) -> String {
        format!("ScheduleExpression cron {}", self.name)
    }

    fn allowed(&self) -> String {
        if self.names.is_empty() {
            format!("{}-{}", self.min, self.max)
        } else {
            format!(
                "{}-{} or {}-{}",
                self.min,
                self.max,
                self.names[0],
                self.names[self.names.len() - 1]
            )
        }
    }

    fn value(&self, text: &str) -> Result<u32, Error> {
        let upper = text.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            return Ok(self.min + i as u32);
        }
        match text.parse::<u32>() {
            Ok(v)
                if (self.min..=self.max).contains(&v)
                    && text.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(v)
            }
            _ => Err(Error::new(
                self.field(),
                format!("{} is not {}", quote(text), self.allowed()),
            )),
        }
    }

    /// The values of a field made of `,`-separated parts: `*`, `v`, `a-b` (may wrap), each
    /// optionally `/step`.
    fn values(&self, text: &str) -> Result<Vec<u32>, Error> {
        let mut out = Vec::new();
        for part in text.split(',') {
            if part.is_empty() {
                return Err(Error::new(
                    self.field(),
                    format!("{} has an empty list item", quote(text)),
                ));
            }
            let (base, step) = match part.split_once('/') {
                Some((base, step)) => {
                    let step = step.parse::<u32>().ok().filter(|s| *s >= 1 && *s <= self.max.max(1)).ok_or_else(|| {
                        Error::new(
                            self.field(),
                            format!(
                                "{} has an invalid step: after '/' comes a whole number from 1 to {}",
                                quote(part),
                                self.max
                            ),
                        )
                    })?;
                    (base, step)
                }
                None => (part, 1),
            };
            let (from, to) = if base == "*" {
                (self.min, self.max)
            } else if let Some((a, b)) = base.split_once('-') {
                (self.value(a)?, self.value(b)?)
            } else {
                (self.value(base)?, self.max)
            };
            if !part.contains('/') && base != "*" && !base.contains('-') {
                out.push(from);
                continue;
            }
            // Walk the (possibly wrapping) range from `from` to `to` in steps.
            let span = if to >= from {
                to - from
            } else {
                (self.max - from) + (to - self.min) + 1
            };
            let width = self.max - self.min + 1;
            let mut offset = 0;
            while offset <= span {
                let v = self.min + (from - self.min + offset) % width;
                out.push(v);
                offset += step;
            }
        }
        Ok(out)
    }
}

const MINUTE: FieldSpec = FieldSpec {
    name: "Minutes",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldSpec = FieldSpec {
    name: "Hours",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: FieldSpec = FieldSpec {
    name: "Day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: FieldSpec = FieldSpec {
    name: "Month",
    min: 1,
    max: 12,
    names: MONTHS,
};
const DOW: FieldSpec = FieldSpec {
    name: "Day-of-week",
    min: 1,
    max: 7,
    names: WEEKDAYS,
};
const YEAR: FieldSpec = FieldSpec {
    name: "Year",
    min: YEARS.0 as u32,
    max: YEARS.1 as u32,
    names: &[],
};

impl Cron {
    /// Parses the inside of `cron(…)`.
    pub fn parse(inner: &str) -> Result<Self, Error> {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(Error::new(
                "ScheduleExpression",
                format!(
                    "cron() takes exactly 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), got {}",
                    fields.len()
                ),
            ));
        }
        let minutes = MINUTE
            .values(fields[0])?
            .iter()
            .fold(0u64, |a, v| a | 1 << v);
        let hours = HOUR.values(fields[1])?.iter().fold(0u32, |a, v| a | 1 << v);
        let months = MONTH
            .values(fields[3])?
            .iter()
            .fold(0u16, |a, v| a | 1 << v);
        let mut years = [0u64; 4];
        for y in YEAR.values(fields[5])? {
            let i = (y - YEAR.min) as usize;
            years[i / 64] |= 1 << (i % 64);
        }
        let dom = day_of_month(fields[2])?;
        let dow = day_of_week(fields[4])?;
        match (&dom, &dow) {
            (DayOfMonth::Unspecified, DayOfWeek::Unspecified) => Err(Error::new(
                "ScheduleExpression",
                "Day-of-month and Day-of-week cannot both be '?': one of them must say which days",
            )),
            (DayOfMonth::Unspecified, _) | (_, DayOfWeek::Unspecified) => Ok(Self {
                minutes,
                hours,
                dom,
                months,
                dow,
                years,
            }),
            _ => Err(Error::new(
                "ScheduleExpression",
                "one of Day-of-month and Day-of-week must be '?' (a value or '*' in one requires '?' in the other)",
            )),
        }
    }

    fn has_year(&self, y: i32) -> bool {
        if !(YEARS.0..=YEARS.1).contains(&y) {
            return false;
        }
        let i = (y - YEARS.0) as usize;
        self.years[i / 64] & (1 << (i % 64)) != 0
    }

    fn has_month(&self, m: u32) -> bool {
        self.months & (1 << m) != 0
    }

    /// Whether the day `d` is one of the expression's days.
    pub fn matches_day(&self, d: NaiveDate) -> bool {
        if !self.has_year(d.year()) || !self.has_month(d.month()) {
            return false;
        }
        let last = last_day(d.year(), d.month());
        let weekday = d.weekday().number_from_sunday();
        let dom = match &self.dom {
            DayOfMonth::Unspecified => true,
            DayOfMonth::Days(bits) => bits & (1 << d.day()) != 0,
            DayOfMonth::Last => d.day() == last,
            DayOfMonth::NearestWeekday(n) => {
                nearest_weekday(d.year(), d.month(), *n) == Some(d.day())
            }
        };
        let dow = match &self.dow {
            DayOfWeek::Unspecified => true,
            DayOfWeek::Days(bits) => bits & (1 << weekday) != 0,
            DayOfWeek::Last(w) => weekday == *w && d.day() + 7 > last,
            DayOfWeek::Nth(w, k) => weekday == *w && (d.day() - 1) / 7 + 1 == *k,
        };
        dom && dow
    }

    /// The matching local minutes of a matching day, in order.
    fn times(&self) -> impl Iterator<Item = NaiveTime> + '_ {
        (0..24u32)
            .filter(|h| self.hours & (1 << h) != 0)
            .flat_map(move |h| {
                (0..60u32)
                    .filter(|m| self.minutes & (1 << m) != 0)
                    .filter_map(move |m| NaiveTime::from_hms_opt(h, m, 0))
            })
    }

    /// The local date-times from the day of `from` on (those on that day before `from`
    /// included: the caller compares instants), in order, until the year 2199 ends.
    pub fn local_times_from(&self, from: NaiveDate) -> impl Iterator<Item = NaiveDateTime> + '_ {
        Days::new(self, from).flat_map(move |d| self.times().map(move |t| d.and_time(t)))
    }
}

/// Matching days from `from` on, skipping years and months that cannot match.
struct Days<'a> {
    cron: &'a Cron,
    next: Option<NaiveDate>,
}

impl<'a> Days<'a> {
    fn new(cron: &'a Cron, from: NaiveDate) -> Self {
        Self {
            cron,
            next: Some(from),
        }
    }
}

impl Iterator for Days<'_> {
    type Item = NaiveDate;

    fn next(&mut self) -> Option<NaiveDate> {
        loop {
            let d = self.next?;
            if d.year() > YEARS.1 {
                self.next = None;
                return None;
            }
            if !self.cron.has_year(d.year()) {
                self.next = NaiveDate::from_ymd_opt(d.year() + 1, 1, 1);
                continue;
            }
            if !self.cron.has_month(d.month()) {
                self.next = first_of_next_month(d);
                continue;
            }
            self.next = d.succ_opt();
            if self.cron.matches_day(d) {
                return Some(d);
            }
        }
    }
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    }
}

fn last_day(year: i32, month: u32) -> u32 {
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(first_of_next_month)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

/// The weekday nearest day `n` of the month, never leaving the month (as `nW` means).
fn nearest_weekday(year: i32, month: u32, n: u32) -> Option<u32> {
    let last = last_day(year, month);
    if n > last {
        return None;
    }
    let weekday = NaiveDate::from_ymd_opt(year, month, n)?
        .weekday()
        .number_from_sunday();
    Some(match weekday {
        // Saturday: the Friday before, unless that is in the previous month.
        7 if n == 1 => 3,
        7 => n - 1,
        // Sunday: the Monday after, unless that is in the next month.
        1 if n == last => n - 2,
        1 => n + 1,
        _ => n,
    })
}

fn day_of_month(text: &str) -> Result<DayOfMonth, Error> {
    if text == "?" {
        return Ok(DayOfMonth::Unspecified);
    }
    if text.eq_ignore_ascii_case("L") {
        return Ok(DayOfMonth::Last);
    }
    if let Some(n) = text.strip_suffix(['W', 'w']) {
        let n = DOM.value(n)?;
        return Ok(DayOfMonth::NearestWeekday(n));
    }
    if text.contains(['L', 'l', 'W', 'w', '#']) {
        return Err(Error::new(
            DOM.field(),
            format!(
                "{} is not allowed: use 1-31 with , - * /, or '?', 'L' or 'nW' alone",
                quote(text)
            ),
        ));
    }
    let bits = DOM.values(text)?.iter().fold(0u32, |a, v| a | 1 << v);
    Ok(DayOfMonth::Days(bits))
}

fn day_of_week(text: &str) -> Result<DayOfWeek, Error> {
    if text == "?" {
        return Ok(DayOfWeek::Unspecified);
    }
    if text.eq_ignore_ascii_case("L") {
        return Ok(DayOfWeek::Days(1 << 7));
    }
    if let Some((w, k)) = text.split_once('#') {
        if text.contains(',') {
            return Err(Error::new(
                DOW.field(),
                format!(
                    "{} is not allowed: '#' stands alone in Day-of-week (one 'weekday#n')",
                    quote(text)
                ),
            ));
        }
        let w = DOW.value(w)?;
        let k = k
            .parse::<u32>()
            .ok()
            .filter(|k| (1..=5).contains(k))
            .ok_or_else(|| {
                Error::new(
                    DOW.field(),
                    format!(
                        "{}: after '#' comes 1-5 (which occurrence in the month)",
                        quote(text)
                    ),
                )
            })?;
        return Ok(DayOfWeek::Nth(w, k));
    }
    if let Some(w) = text.strip_suffix(['L', 'l']) {
        let w = DOW.value(w)?;
        return Ok(DayOfWeek::Last(w));
    }
    if text.contains(['L', 'l', 'W', 'w']) {
        return Err(Error::new(
            DOW.field(),
            format!(
                "{} is not allowed: use 1-7 or SUN-SAT with , - * /, or '?', 'L', 'nL' or 'n#k' alone",
                quote(text)
            ),
        ));
    }
    let bits = DOW.values(text)?.iter().fold(0u8, |a, v| a | 1 << v);
    Ok(DayOfWeek::Days(bits))
}
