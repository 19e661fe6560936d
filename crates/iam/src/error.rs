//! The crate's one error type, [`PolicyError`].
//!
//! Policy:
//!
//! - One enum for the whole crate. Callers branch on it only coarsely: the local STS answers
//!   every [`PolicyError`] from a session policy as `MalformedPolicyDocument` with the
//!   [`Display`](std::fmt::Display) text as its message, and the dev stack refuses to start on
//!   one from the deploy files.
//! - Errors happen only while *loading* (parsing a document, rendering a template); evaluating a
//!   loaded document never fails, whatever the request holds.
//! - Messages name where the problem is — the element path, with the statement's index and Sid
//!   (`Statement[1] (Sid "Read").Effect`), or the file — and what is wrong, in our own fixed
//!   wording.
//! - Messages quote the offending piece of the policy (an action name, an operator, a number
//!   that does not parse), cut to 100 characters: policy text is not secret, and seeing the bad
//!   value is how one fixes it. They never quote request data. JSON syntax errors carry
//!   serde_json's fixed description plus line and column, never input text.
//! - Errors are not logged here; the caller that handles them decides.

/// Everything that can go wrong while loading a policy document or rendering a policy template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The text is not well-formed JSON.
    #[error("malformed JSON at line {line}, column {column}: {reason}")]
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// serde_json's fixed description of the syntax problem.
        reason: String,
    },

    /// The JSON is well-formed, but an element of the policy is missing, misplaced or invalid.
    #[error("{path}: {problem}")]
    Element {
        /// Where in the document, e.g. `Statement[1].Effect` or
        /// `Statement[0] (Sid "Read").Condition.StringEquals`; `(document)` for the whole.
        path: String,
        /// What is wrong there, e.g. `expected "Allow" or "Deny"`.
        problem: String,
    },

    /// A `${Name}` placeholder in a policy template has no value, or its value cannot be
    /// placed into JSON text unescaped.
    #[error("placeholder ${{{name}}}: {problem}")]
    Placeholder {
        /// The placeholder's name, without `${` and `}`.
        name: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A deploy file (`deploy/aws/iam/…`) is invalid; `source` says where and why.
    #[error("{file}: {source}")]
    InFile {
        /// The file's name, e.g. `role-trust-policy.json`.
        file: &'static str,
        /// What is wrong with it.
        #[source]
        source: Box<PolicyError>,
    },
}

impl PolicyError {
    /// An [`PolicyError::Element`] at `path`.
    pub(crate) fn element(path: impl Into<String>, problem: impl Into<String>) -> Self {
        PolicyError::Element {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// A [`PolicyError::Json`] from serde_json's syntax error.
    pub(crate) fn json(error: &serde_json::Error) -> Self {
        // serde_json's Display appends " at line L column C"; keep only the fixed description.
        let text = error.to_string();
        let reason = match text.rfind(" at line ") {
            Some(at) => text.get(..at).unwrap_or_default().to_owned(),
            None => text,
        };
        PolicyError::Json {
            line: error.line(),
            column: error.column(),
            reason,
        }
    }

    /// This error, as found in the deploy file `file`.
    pub(crate) fn in_file(self, file: &'static str) -> Self {
        PolicyError::InFile {
            file,
            source: Box::new(self),
        }
    }
}

/// `text` in double quotes, cut to 100 characters, for quoting policy text in messages.
pub(crate) fn quote(text: &str) -> String {
    const MAX: usize = 100;
    let mut out = String::with_capacity(text.len().min(MAX) + 5);
    out.push('"');
    for (i, c) in text.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        // Control characters would garble log lines and XML error bodies.
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}
