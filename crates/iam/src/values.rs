//! The typed values that `Date…` and `IpAddress` conditions compare: instants (ISO-8601 or
//! epoch seconds) and CIDR blocks (IPv4 and IPv6). Parsing returns `None` on anything else;
//! nothing here panics.

use std::net::IpAddr;

/// A point in time: seconds and nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant {
    secs: i64,
    nanos: u32,
}

/// Parses an instant as IAM's `Date…` operators accept it:
///
/// - epoch seconds, optionally with a fraction: `1735689600`, `1735689600.5`;
/// - an ISO-8601 date `2025-01-01` (midnight UTC);
/// - an ISO-8601 date and time `2025-01-01T08:00`, `…T08:00:00`, `…T08:00:00.123`, with an
///   optional zone `Z`, `+01:00`, `+0100` or `+01` (none means UTC).
pub(crate) fn parse_instant(s: &str) -> Option<Instant> {
    let s = s.trim();
    if let Some(first) = s.chars().next()
        && first.is_ascii_digit()
        && !s.contains('-')
        && !s.contains(':')
    {
        return parse_epoch(s);
    }
    parse_iso(s)
}

fn parse_epoch(s: &str) -> Option<Instant> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    if whole.is_empty() || whole.len() > 15 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let nanos = match frac {
        Some(f) => fraction_nanos(f)?,
        None => 0,
    };
    Some(Instant { secs, nanos })
}

/// The nanoseconds of the digits after a decimal point (extra digits beyond nine are cut).
fn fraction_nanos(f: &str) -> Option<u32> {
    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let digit = f.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
        nanos = nanos * 10 + digit;
    }
    Some(nanos)
}

fn parse_iso(s: &str) -> Option<Instant> {
    let (date, time) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (year, month, day) = (
        number(d.next()?, 4)?,
        number(d.next()?, 2)?,
        number(d.next()?, 2)?,
    );
    if d.next().is_some() || !(1..=12).contains(&month) || day < 1 || day > days_in(year, month) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let mut nanos = 0;
    if let Some(time) = time {
        // Split off the zone: `Z`, or a sign followed by the offset.
        let (clock, offset_secs) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(at) = time.rfind(['+', '-']) {
            let (c, zone) = time.split_at(at);
            (c, zone_offset(zone)?)
        } else {
            (time, 0)
        };
        let mut parts = clock.split(':');
        let hour = number(parts.next()?, 2)?;
        let minute = number(parts.next()?, 2)?;
        let (second, frac) = match parts.next() {
            Some(sec) => match sec.split_once(['.', ',']) {
                Some((s, f)) => (number(s, 2)?, fraction_nanos(f)?),
                None => (number(sec, 2)?, 0),
            },
            None => (0, 0),
        };
        if parts.next().is_some() || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        secs += hour * 3600 + minute * 60 + second - offset_secs;
        nanos = frac;
    }
    Some(Instant { secs, nanos })
}

/// The offset of a zone such as `+01:00`, `-0130` or `+01`, in seconds east of UTC.
fn zone_offset(zone: &str) -> Option<i64> {
    let (sign, rest) = match zone.chars().next()? {
        '+' => (1, zone.get(1..)?),
        '-' => (-1, zone.get(1..)?),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    let (h, m) = match digits.len() {
        2 => (number(&digits, 2)?, 0),
        4 => (number(digits.get(..2)?, 2)?, number(digits.get(2..)?, 2)?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// Exactly `len` ASCII digits as a number.
fn number(s: &str, len: usize) -> Option<i64> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An address block: `203.0.113.0/24`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix` or a bare address (a block of one).
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
            None => max,
        };
        Some(Cidr { network, prefix })
    }

    /// Whether `ip` (a request's `aws:SourceIp`) lies in the block. IPv4-mapped IPv6
    /// addresses count as IPv4.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.network.to_canonical(), ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A request's IP address (a trailing `/prefix` is ignored).
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let addr = s.trim().split('/').next()?;
    addr.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<(i64, u32)> {
        parse_instant(s).map(|i| (i.secs, i.nanos))
    }

    #[test]
    fn instants() {
        assert_eq!(at("1970-01-01"), Some((0, 0)));
        assert_eq!(at("2025-01-01T00:00:00Z"), Some((1_735_689_600, 0)));
        assert_eq!(at("2025-01-01T01:00:00+01:00"), Some((1_735_689_600, 0)));
        assert_eq!(at("2025-01-01T01:00:00+0100"), Some((1_735_689_600, 0)));
        assert_eq!(at("2024-12-31T23:00:00-01"), Some((1_735_689_600, 0)));
        assert_eq!(at("2025-01-01T00:00"), Some((1_735_689_600, 0)));
        assert_eq!(
            at("2025-01-01T00:00:00.25Z"),
            Some((1_735_689_600, 250_000_000))
        );
        assert_eq!(at("1735689600"), Some((1_735_689_600, 0)));
        assert_eq!(at("1735689600.5"), Some((1_735_689_600, 500_000_000)));
        assert_eq!(at("2024-02-29"), Some((1_709_164_800, 0)));
        for bad in [
            "",
            "2023-02-29",
            "2025-13-01",
            "2025-1-01",
            "2025-01-01T25:00:00Z",
            "2025-01-01T00:00:00+99:00",
            "yesterday",
            "1e9",
            "99999999999999999999",
            "2025-01-01T",
            "2025-01-01T00",
            "-5",
        ] {
            assert_eq!(at(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cidrs() {
        let net = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(net.contains("203.0.113.9".parse().unwrap()));
        assert!(!net.contains("203.0.114.9".parse().unwrap()));
        assert!(net.contains("::ffff:203.0.113.9".parse().unwrap()));
        let v6 = Cidr::parse("2001:DB8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("203.0.113.9".parse().unwrap()));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let one = Cidr::parse("10.0.0.1").unwrap();
        assert!(one.contains("10.0.0.1".parse().unwrap()));
        assert!(!one.contains("10.0.0.2".parse().unwrap()));
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "::/129",
            "x",
            "10.0.0.0/-1",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad:?}");
        }
    }
}
