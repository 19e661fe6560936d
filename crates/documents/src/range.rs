//! One `Range` header against a size (RFC 9110 §14.1.2 and §14.2): `bytes=0-99`,
//! `bytes=100-`, `bytes=-500`. A syntactically invalid header, another unit, or several ranges
//! are ignored (the whole content is sent: §14.2 allows ignoring `Range`, and we do not send
//! `multipart/byteranges`); a valid range that selects nothing is unsatisfiable (416).

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOutcome {
    /// The whole content (200).
    Full,
    /// Bytes `start..=end` (206).
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// Nothing of it (416).
    Unsatisfiable,
}

/// The range a header asks for out of `size` bytes.
pub fn parse_range(header: &str, size: u64) -> RangeOutcome {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeOutcome::Full;
    };
    if spec.contains(',') {
        return RangeOutcome::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeOutcome::Full;
    };
    let num = |s: &str| -> Option<Option<u64>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().map(Some)
        } else {
            None
        }
    };
    let (Some(first), Some(last)) = (num(first), num(last)) else {
        return RangeOutcome::Full;
    };
    let Some(max) = size.checked_sub(1) else {
        return match (first, last) {
            (None, None) => RangeOutcome::Full,
            _ => RangeOutcome::Unsatisfiable,
        };
    };
    match (first, last) {
        (Some(start), end) => {
            if end.is_some_and(|e| e < start) {
                return RangeOutcome::Full;
            }
            if start > max {
                return RangeOutcome::Unsatisfiable;
            }
            RangeOutcome::Partial {
                start,
                end: end.map_or(max, |e| e.min(max)),
            }
        }
        (None, Some(0)) => RangeOutcome::Unsatisfiable,
        (None, Some(len)) => RangeOutcome::Partial {
            start: size - len.min(size),
            end: max,
        },
        (None, None) => RangeOutcome::Full,
    }
}

/// `Content-Range` of a partial answer: `bytes start-end/size`.
pub fn content_range(start: u64, end: u64, size: u64) -> String {
    format!("bytes {start}-{end}/{size}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeOutcome::*;

    #[test]
    fn ranges() {
        let p = |h| parse_range(h, 100);
        assert_eq!(p("bytes=0-9"), Partial { start: 0, end: 9 });
        assert_eq!(p("bytes=90-"), Partial { start: 90, end: 99 });
        assert_eq!(p("bytes=90-500"), Partial { start: 90, end: 99 });
        assert_eq!(p("bytes=-10"), Partial { start: 90, end: 99 });
        assert_eq!(p("bytes=-1000"), Partial { start: 0, end: 99 });
        assert_eq!(p("bytes=100-"), Unsatisfiable);
        assert_eq!(p("bytes=-0"), Unsatisfiable);
        for ignored in [
            "",
            "bytes=",
            "bytes=a-b",
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=9-1",
            "bytes=--1",
            "bytes=1",
        ] {
            assert_eq!(p(ignored), Full, "{ignored:?}");
        }
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=99999999999999999999999-", 10), Full);
        assert_eq!(content_range(1, 4, 10), "bytes 1-4/10");
    }
}
