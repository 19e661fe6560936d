//! One `Range` header against a size (RFC 9110 §14.1.2 and §14.2): `bytes=0-99`,
//! `bytes=100-`, `bytes=-500`.
//!
//! - The range unit is compared case-insensitively (§14.1); white space around the header and
//!   around list elements is allowed, and empty list elements are skipped (§5.6.1).
//! - A header that is not valid `bytes` syntax, names another unit, or has a `last-pos` below
//!   its `first-pos` is ignored: the whole content is sent (§14.2 lets a server ignore
//!   `Range`, and requires it for invalid ones).
//! - Several ranges are ignored too: we do not send `multipart/byteranges`, and §14.2 allows
//!   answering with the whole content instead.
//! - A valid range that selects nothing (`first-pos` at or past the end, a suffix of 0, any
//!   range of an empty content) is unsatisfiable: 416 with `Content-Range: bytes */size`.
//! - Numbers too large for 64 bits are taken as the largest: they are positions past any end.

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOutcome {
    /// The whole content (200).
    Full,
    /// Bytes `start..=end` (206), with `start <= end < size`.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// Nothing of it (416).
    Unsatisfiable,
}

/// The range a `Range` header asks for out of `size` bytes.
pub fn parse_range(header: &str, size: u64) -> RangeOutcome {
    const OWS: [char; 2] = [' ', '\t'];
    let Some((unit, set)) = header.trim_matches(OWS).split_once('=') else {
        return RangeOutcome::Full;
    };
    if !unit.eq_ignore_ascii_case("bytes") {
        return RangeOutcome::Full;
    }
    let mut specs = set
        .split(',')
        .map(|s| s.trim_matches(OWS))
        .filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeOutcome::Full;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeOutcome::Full;
    };
    let (Some(first), Some(last)) = (number(first), number(last)) else {
        return RangeOutcome::Full;
    };
    match (first, last) {
        (Some(start), last) => {
            if last.is_some_and(|l| l < start) {
                return RangeOutcome::Full;
            }
            if start >= size {
                return RangeOutcome::Unsatisfiable;
            }
            let max = size - 1;
            RangeOutcome::Partial {
                start,
                end: last.map_or(max, |l| l.min(max)),
            }
        }
        (None, Some(0)) => RangeOutcome::Unsatisfiable,
        (None, Some(_)) if size == 0 => RangeOutcome::Unsatisfiable,
        (None, Some(len)) => RangeOutcome::Partial {
            start: size - len.min(size),
            end: size - 1,
        },
        (None, None) => RangeOutcome::Full,
    }
}

/// `Some(None)` for an empty text, `Some(Some(n))` for digits (saturating), `None` otherwise.
fn number(s: &str) -> Option<Option<u64>> {
    if s.is_empty() {
        return Some(None);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    })))
}

/// `Content-Range` of a partial answer: `bytes start-end/size`.
pub fn content_range(start: u64, end: u64, size: u64) -> String {
    format!("bytes {start}-{end}/{size}")
}

/// `Content-Range` of a 416 answer: `bytes */size`.
pub fn unsatisfiable_range(size: u64) -> String {
    format!("bytes */{size}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeOutcome::*;

    #[test]
    fn ranges() {
        let p = |h| parse_range(h, 100);
        for (header, outcome) in [
            ("bytes=0-9", Partial { start: 0, end: 9 }),
            ("bytes=0-0", Partial { start: 0, end: 0 }),
            ("bytes=90-", Partial { start: 90, end: 99 }),
            ("bytes=90-500", Partial { start: 90, end: 99 }),
            ("bytes=99-99", Partial { start: 99, end: 99 }),
            ("bytes=-10", Partial { start: 90, end: 99 }),
            ("bytes=-1000", Partial { start: 0, end: 99 }),
            ("Bytes=1-2", Partial { start: 1, end: 2 }),
            (" bytes=1-2 ", Partial { start: 1, end: 2 }),
            ("bytes= 1-2 ,", Partial { start: 1, end: 2 }),
            (
                "bytes=0-99999999999999999999999",
                Partial { start: 0, end: 99 },
            ),
            (
                "bytes=-99999999999999999999999",
                Partial { start: 0, end: 99 },
            ),
            ("bytes=100-", Unsatisfiable),
            ("bytes=100-200", Unsatisfiable),
            ("bytes=-0", Unsatisfiable),
            ("bytes=99999999999999999999999-", Unsatisfiable),
            ("", Full),
            ("bytes", Full),
            ("bytes=", Full),
            ("bytes=-", Full),
            ("bytes=a-b", Full),
            ("bytes=+1-2", Full),
            ("bytes=1 -2", Full),
            ("items=0-1", Full),
            ("bytes =0-1", Full),
            ("bytes=0-1,5-6", Full),
            ("bytes=0-1,0-1", Full),
            ("bytes=9-1", Full),
            ("bytes=--1", Full),
            ("bytes=1", Full),
            ("bytes=1-2-3", Full),
            ("bytes=٣-٤", Full),
        ] {
            assert_eq!(p(header), outcome, "{header:?}");
        }
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 1), Partial { start: 0, end: 0 });
        assert_eq!(
            parse_range("bytes=-1", u64::MAX),
            Partial {
                start: u64::MAX - 1,
                end: u64::MAX - 1
            }
        );
        assert_eq!(content_range(1, 4, 10), "bytes 1-4/10");
        assert_eq!(unsatisfiable_range(10), "bytes */10");
    }

    /// Random well-formed and malformed headers against a reference in 128-bit arithmetic.
    #[test]
    fn random_ranges() {
        let mut rng = fastrand::Rng::with_seed(17);
        for _ in 0..50_000 {
            let size = match rng.u8(..4) {
                0 => 0,
                1 => rng.u64(..10),
                2 => rng.u64(..1000),
                _ => rng.u64(..),
            };
            let pos = |rng: &mut fastrand::Rng| match rng.u8(..4) {
                0 => None,
                1 => Some(u128::from(rng.u64(..20))),
                2 => Some(
                    (u128::from(size) + u128::from(rng.u64(..3))).clamp(1, u128::from(u64::MAX))
                        - 1,
                ),
                _ => Some(u128::from(rng.u64(..))),
            };
            let (first, last) = (pos(&mut rng), pos(&mut rng));
            let text = |p: Option<u128>| p.map(|n| n.to_string()).unwrap_or_default();
            let header = format!("bytes={}-{}", text(first), text(last));
            let size128 = u128::from(size);
            let expected = match (first, last) {
                (None, None) => Full,
                (Some(f), Some(l)) if l < f => Full,
                (Some(f), _) if f >= size128 => Unsatisfiable,
                (Some(f), l) => Partial {
                    start: f as u64,
                    end: l.map_or(size128 - 1, |l| l.min(size128 - 1)) as u64,
                },
                (None, Some(0)) => Unsatisfiable,
                (None, Some(_)) if size == 0 => Unsatisfiable,
                (None, Some(n)) => Partial {
                    start: (size128 - n.min(size128)) as u64,
                    end: size - 1,
                },
            };
            let got = parse_range(&header, size);
            assert_eq!(got, expected, "{header} of {size}");
            if let Partial { start, end } = got {
                assert!(start <= end && end < size);
            }
            // Garbage never panics and never selects bytes that are not there.
            let junk: String = (0..rng.usize(0..12))
                .map(|_| ["bytes", "=", "-", ",", " ", "1", "99", "x", "ä"][rng.usize(..9)])
                .collect();
            if let Partial { start, end } = parse_range(&junk, size) {
                assert!(start <= end && end < size, "{junk:?}");
            }
        }
    }
}
