//! Compiled wildcard patterns: `*` (any run of characters) and `?` (exactly one character),
//! optionally case-insensitive, optionally with policy variables (`${aws:username}`).
//!
//! Patterns are compiled once, when a policy is loaded; matching walks the compiled tokens
//! with the classic two-pointer algorithm (backtracking only to the last `*`), allocates
//! nothing unless the pattern holds a policy variable, and cannot panic.
//!
//! Policy variables (documents of version `2012-10-17` only): `${key}` is replaced by the
//! request's single value of the condition key `key` (names case-insensitive), and
//! `${key, 'default'}` falls back to `default`. The replacement is literal text: a `*` in a
//! value is not a wildcard. `${*}`, `${?}` and `${$}` stand for the literal characters. A
//! variable with no value (key absent or multi-valued, no default) makes the pattern match
//! nothing — our reading of IAM's "the element evaluates to false". An unterminated `${` is
//! literal text.

/// How a pattern's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (otherwise literal characters).
    pub(crate) wildcards: bool,
    /// `${…}` is a policy variable (otherwise literal text).
    pub(crate) variables: bool,
    /// Letters compare case-insensitively.
    pub(crate) fold: bool,
}

/// Where patterns find the values of policy variables.
pub(crate) trait Vars {
    /// The single value of the condition key `name`, if the request has exactly one.
    fn var(&self, name: &str) -> Option<&str>;
}

/// No variables at all; for matching outside a request.
#[cfg(test)]
pub(crate) struct NoVars;

#[cfg(test)]
impl Vars for NoVars {
    fn var(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    body: Body,
    fold: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    /// A lone `*`: matches every string.
    All,
    /// No wildcard and no variable: a plain comparison.
    Exact(Box<str>),
    /// Wildcards, no variable.
    Glob(Box<[Tok]>),
    /// At least one variable; expanded to a token list per match.
    Dynamic(Box<[Piece]>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`
    Any,
    /// `?`
    One,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Tok(Tok),
    Var {
        name: Box<str>,
        default: Option<Box<str>>,
    },
}

impl Pattern {
    /// Compiles `text` read with `syntax`.
    pub(crate) fn new(text: &str, syntax: Syntax) -> Pattern {
        let pieces = tokenize(text, syntax);
        let has_var = pieces.iter().any(|p| matches!(p, Piece::Var { .. }));
        let body = if has_var {
            Body::Dynamic(pieces.into_boxed_slice())
        } else {
            let toks: Vec<Tok> = pieces
                .into_iter()
                .filter_map(|p| match p {
                    Piece::Tok(t) => Some(t),
                    Piece::Var { .. } => None,
                })
                .collect();
            if toks == [Tok::Any] {
                Body::All
            } else if toks.iter().all(|t| matches!(t, Tok::Lit(_))) {
                Body::Exact(
                    toks.iter()
                        .filter_map(|t| match t {
                            Tok::Lit(c) => Some(*c),
                            _ => None,
                        })
                        .collect::<String>()
                        .into_boxed_str(),
                )
            } else {
                Body::Glob(toks.into_boxed_slice())
            }
        };
        Pattern {
            body,
            fold: syntax.fold,
        }
    }

    /// Whether the pattern matches all of `s`.
    pub(crate) fn matches(&self, s: &str, vars: &dyn Vars) -> bool {
        match &self.body {
            Body::All => true,
            Body::Exact(text) => {
                if self.fold {
                    eq_fold(text, s)
                } else {
                    **text == *s
                }
            }
            Body::Glob(toks) => glob(toks, s, self.fold),
            Body::Dynamic(pieces) => {
                let mut toks = Vec::with_capacity(pieces.len() + 16);
                for piece in pieces.iter() {
                    match piece {
                        Piece::Tok(t) => toks.push(*t),
                        Piece::Var { name, default } => {
                            let value = vars.var(name).or(default.as_deref());
                            match value {
                                Some(v) => toks.extend(v.chars().map(Tok::Lit)),
                                None => return false,
                            }
                        }
                    }
                }
                glob(&toks, s, self.fold)
            }
        }
    }

    /// Whether the pattern holds a wildcard (`*` or `?`), as opposed to literal text only.
    pub(crate) fn has_wildcard(&self) -> bool {
        match &self.body {
            Body::All | Body::Glob(_) => true,
            Body::Exact(_) => false,
            Body::Dynamic(pieces) => pieces
                .iter()
                .any(|p| matches!(p, Piece::Tok(Tok::Any | Tok::One))),
        }
    }

    /// Whether the pattern's last token is `*` (so it may run on across `:` in an ARN).
    pub(crate) fn ends_with_star(&self) -> bool {
        match &self.body {
            Body::All => true,
            Body::Exact(_) => false,
            Body::Glob(toks) => toks.last() == Some(&Tok::Any),
            Body::Dynamic(pieces) => pieces.last() == Some(&Piece::Tok(Tok::Any)),
        }
    }
}

/// Splits `text` into tokens and variables.
fn tokenize(text: &str, syntax: Syntax) -> Vec<Piece> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if syntax.variables
            && rest.starts_with("${")
            && let Some(end) = rest.find('}')
        {
            let inner = rest.get(2..end).unwrap_or_default();
            rest = rest.get(end + 1..).unwrap_or_default();
            out.push(variable(inner));
            continue;
        }
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
        out.push(Piece::Tok(match c {
            '*' if syntax.wildcards => Tok::Any,
            '?' if syntax.wildcards => Tok::One,
            c => Tok::Lit(c),
        }));
    }
    out
}

/// The piece for `${inner}`.
fn variable(inner: &str) -> Piece {
    match inner {
        "*" | "?" | "$" => Piece::Tok(Tok::Lit(inner.chars().next().unwrap_or('$'))),
        _ => {
            // `${key, 'default'}`: the default is quoted with single quotes.
            if let Some((name, default)) = inner.split_once(',') {
                let default = default.trim();
                if let Some(d) = default
                    .strip_prefix('\'')
                    .and_then(|d| d.strip_suffix('\''))
                {
                    return Piece::Var {
                        name: name.trim().into(),
                        default: Some(d.into()),
                    };
                }
            }
            Piece::Var {
                name: inner.trim().into(),
                default: None,
            }
        }
    }
}

/// Matches `s` against `toks`: linear in the common case, `O(len(s) × len(toks))` at worst.
fn glob(toks: &[Tok], s: &str, fold: bool) -> bool {
    let mut ti = 0;
    let mut si = 0;
    // Where to resume after the last `*`: (token after it, position in `s` it has absorbed up to).
    let mut resume: Option<(usize, usize)> = None;
    loop {
        let Some(c) = s.get(si..).and_then(|r| r.chars().next()) else {
            return toks
                .get(ti..)
                .unwrap_or_default()
                .iter()
                .all(|t| *t == Tok::Any);
        };
        match toks.get(ti) {
            Some(Tok::Any) => {
                resume = Some((ti + 1, si));
                ti += 1;
                continue;
            }
            Some(Tok::One) => {
                ti += 1;
                si += c.len_utf8();
                continue;
            }
            Some(Tok::Lit(p)) if char_eq(*p, c, fold) => {
                ti += 1;
                si += c.len_utf8();
                continue;
            }
            _ => {}
        }
        // Mismatch: let the last `*` absorb one more character, or fail.
        let Some((after_star, absorbed)) = resume else {
            return false;
        };
        let Some(skipped) = s.get(absorbed..).and_then(|r| r.chars().next()) else {
            return false;
        };
        let next = absorbed + skipped.len_utf8();
        resume = Some((after_star, next));
        ti = after_star;
        si = next;
    }
}

fn char_eq(a: char, b: char, fold: bool) -> bool {
    a == b || (fold && (a.eq_ignore_ascii_case(&b) || a.to_lowercase().eq(b.to_lowercase())))
}

/// Case-insensitive equality of whole strings (Unicode lower-casing, ASCII fast path).
pub(crate) fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LIKE: Syntax = Syntax {
        wildcards: true,
        variables: false,
        fold: false,
    };

    fn m(pattern: &str, s: &str) -> bool {
        Pattern::new(pattern, LIKE).matches(s, &NoVars)
    }

    #[test]
    fn wildcards() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("", "", true),
            ("", "a", false),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ba", false),
            ("*c", "abc", true),
            ("a*c", "ac", true),
            ("a*c", "abcbc", true),
            ("a*c", "abcb", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "aéc", true),
            ("??", "é€", true),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b*", "xxbxxaxx", false),
            ("**", "", true),
            ("a**b", "ab", true),
            ("*?", "", false),
            ("*?", "x", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(m(p, s), want, "{p:?} vs {s:?}");
        }
    }

    #[test]
    fn case_folding() {
        let fold = Syntax { fold: true, ..LIKE };
        assert!(Pattern::new("S3:GET*", fold).matches("s3:getobject", &NoVars));
        assert!(Pattern::new("ÄB", fold).matches("äb", &NoVars));
        assert!(!Pattern::new("S3:GET*", LIKE).matches("s3:getobject", &NoVars));
    }

    #[test]
    fn literal_mode_keeps_wildcard_characters() {
        let exact = Syntax {
            wildcards: false,
            ..LIKE
        };
        assert!(Pattern::new("a*", exact).matches("a*", &NoVars));
        assert!(!Pattern::new("a*", exact).matches("ab", &NoVars));
    }

    struct One;
    impl Vars for One {
        fn var(&self, name: &str) -> Option<&str> {
            (name == "aws:username").then_some("al*ce")
        }
    }

    #[test]
    fn variables() {
        let vars = Syntax {
            variables: true,
            ..LIKE
        };
        let p = Pattern::new("home/${aws:username}/*", vars);
        assert!(p.matches("home/al*ce/x", &One));
        // The value is literal text: its `*` is no wildcard.
        assert!(!p.matches("home/alice/x", &One));
        assert!(!p.matches("home/al*ce/x", &NoVars));
        let d = Pattern::new("${missing, 'dflt'}", vars);
        assert!(d.matches("dflt", &NoVars));
        let esc = Pattern::new("a${*}b${?}${$}", vars);
        assert!(esc.matches("a*b?$", &NoVars));
        assert!(!esc.matches("axb?$", &NoVars));
        let open = Pattern::new("a${b", vars);
        assert!(open.matches("a${b", &NoVars));
    }
}
