//! ARN patterns, as in a statement's `Resource`/`NotResource` and the `Arn…` condition
//! operators: `arn:partition:service:region:account:resource`, matched segment by segment,
//! case-sensitively.
//!
//! Rules (docs/protocols.md §Policy grammar):
//!
//! - `"*"` matches everything, including request resources that are not ARNs (the `*` of
//!   `s3:ListAllMyBuckets`); every other pattern matches ARNs only.
//! - `*` and `?` work within a segment of the first five; in the resource segment (everything
//!   after the fifth `:`) they run across `:` and `/` too, so `arn:aws:s3:::b/*` matches an
//!   object key holding a colon.
//! - A pattern with fewer than six segments whose last character is `*` lets that `*` run on
//!   across the remaining `:` boundaries (`arn:aws:s3:*` matches every S3 ARN); any other
//!   short pattern is an error in a `Resource`.
//! - The service segment of a `Resource` cannot hold a wildcard; `Arn…` condition values may
//!   wildcard any segment (IAM allows it there).

use crate::pattern::{Pattern, Syntax, Vars};

/// A compiled ARN pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    /// `*`.
    All,
    /// `arn:` followed by up to five segment patterns (partition, service, region, account,
    /// resource).
    Segments {
        segments: Box<[Pattern]>,
        /// Fewer than five segments, the last ending in `*`, which absorbs the rest.
        open_tail: bool,
    },
    /// A condition value that is not an ARN: a plain wildcard pattern over the whole string.
    Whole(Pattern),
}

/// What the second field of an ARN may be written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A statement's `Resource`: strict, no wildcard in the service.
    Resource,
    /// An `Arn…` condition value: lenient.
    Condition,
}

impl ArnPattern {
    /// Compiles `text`; the error is the problem, for the caller to place.
    pub(crate) fn new(text: &str, mode: Mode, variables: bool) -> Result<ArnPattern, String> {
        if !text.is_empty() && text.chars().all(|c| c == '*') {
            return Ok(ArnPattern::All);
        }
        let syntax = Syntax {
            wildcards: true,
            variables,
            fold: false,
        };
        let Some(rest) = text.strip_prefix("arn:") else {
            return match mode {
                Mode::Resource => Err(format!(
                    "{} is neither \"*\" nor an ARN (arn:partition:service:region:account:resource)",
                    crate::error::quote(text)
                )),
                Mode::Condition => Ok(ArnPattern::Whole(Pattern::new(text, syntax))),
            };
        };
        let segments: Vec<Pattern> = split_segments(rest, variables)
            .into_iter()
            .map(|s| Pattern::new(s, syntax))
            .collect();
        let short = segments.len() < 5;
        let open_tail = short && segments.last().is_some_and(Pattern::ends_with_star);
        if mode == Mode::Resource {
            if segments.get(1).is_some_and(Pattern::has_wildcard) {
                return Err(format!(
                    "{}: the service segment of an ARN cannot hold a wildcard",
                    crate::error::quote(text)
                ));
            }
            if short && (!open_tail || segments.len() < 3) {
                return Err(format!(
                    "{} is not an ARN: it needs six colon-separated parts \
                     (arn:partition:service:region:account:resource), or at least four ending in \"*\"",
                    crate::error::quote(text)
                ));
            }
        }
        Ok(ArnPattern::Segments {
            segments: segments.into_boxed_slice(),
            open_tail,
        })
    }

    /// Whether the pattern matches `arn`, a request's resource or a condition key's value.
    pub(crate) fn matches(&self, arn: &str, vars: &dyn Vars) -> bool {
        match self {
            ArnPattern::All => true,
            ArnPattern::Whole(p) => p.matches(arn, vars),
            ArnPattern::Segments {
                segments,
                open_tail,
            } => {
                let Some(mut rest) = arn.strip_prefix("arn:") else {
                    return false;
                };
                let Some((last, init)) = segments.split_last() else {
                    return false;
                };
                // The resource segment (the fifth) is never in `init`, so every segment here
                // ends at the next `:`.
                for seg in init {
                    let Some((part, after)) = rest.split_once(':') else {
                        return false;
                    };
                    if !seg.matches(part, vars) {
                        return false;
                    }
                    rest = after;
                }
                if *open_tail || segments.len() == 5 {
                    // The last segment takes everything that is left, colons included.
                    last.matches(rest, vars)
                } else {
                    // A short pattern without a trailing `*`: the ARN must have exactly as
                    // many segments.
                    !rest.contains(':') && last.matches(rest, vars)
                }
            }
        }
    }
}

/// Splits the part of a pattern after `arn:` into at most five segments; with `variables`,
/// a `:` inside `${…}` does not split.
fn split_segments(rest: &str, variables: bool) -> Vec<&str> {
    let mut out = Vec::with_capacity(5);
    let mut start = 0;
    let mut i = 0;
    while out.len() < 4 {
        let Some(tail) = rest.get(i..) else { break };
        if variables
            && tail.starts_with("${")
            && let Some(close) = tail.find('}')
        {
            i += close + 1;
            continue;
        }
        let Some(c) = tail.chars().next() else { break };
        if c == ':' {
            out.push(rest.get(start..i).unwrap_or_default());
            start = i + 1;
        }
        i += c.len_utf8();
    }
    out.push(rest.get(start..).unwrap_or_default());
    out
}

/// The account segment of `arn` (empty for S3 ARNs), if it is an ARN.
pub(crate) fn account_of(arn: &str) -> Option<&str> {
    let mut parts = arn.strip_prefix("arn:")?.splitn(5, ':');
    parts.nth(3)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pattern::NoVars;

    fn res(p: &str, s: &str) -> bool {
        ArnPattern::new(p, Mode::Resource, true)
            .unwrap()
            .matches(s, &NoVars)
    }

    #[test]
    fn segments() {
        assert!(res("arn:aws:s3:::b", "arn:aws:s3:::b"));
        assert!(!res("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(res("arn:aws:s3:::b/*", "arn:aws:s3:::b/a:b/c"));
        assert!(res("arn:aws:s3:*", "arn:aws:s3:::b/k"));
        assert!(!res("arn:aws:s3:*", "arn:aws:sqs:eu:1:q"));
        assert!(res("arn:aws:iam::*:role/x", "arn:aws:iam::123:role/x"));
        assert!(!res("arn:aws:iam::*:role/x", "arn:aws:iam::1:2:role/x"));
        assert!(res("*", "*"));
        assert!(!res("arn:aws:s3:::*", "*"));
    }

    #[test]
    fn variables_keep_their_colons() {
        assert_eq!(
            split_segments("aws:iam::${aws:PrincipalAccount}:role/x", true),
            ["aws", "iam", "", "${aws:PrincipalAccount}", "role/x"]
        );
        assert_eq!(
            split_segments("aws:iam::${aws:PrincipalAccount}:role/x", false),
            ["aws", "iam", "", "${aws", "PrincipalAccount}:role/x"]
        );
    }

    #[test]
    fn accounts() {
        assert_eq!(account_of("arn:aws:iam::123:role/x"), Some("123"));
        assert_eq!(account_of("arn:aws:s3:::b"), Some(""));
        assert_eq!(account_of("*"), None);
    }
}
