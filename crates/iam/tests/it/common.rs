//! The `check` table helper and the builders shared by the test modules.

use std::fmt::Debug;

use iam::{Decision, Evaluation, PolicyDocument, PolicyKind, RequestContext, evaluate};
use serde_json::{Value, json};

/// The account everything lives in.
pub const ACCT: &str = "111122223333";
/// Another account.
pub const OTHER_ACCT: &str = "444455556666";
/// The IAM user whose keys the app holds.
pub const USER: &str = "arn:aws:iam::111122223333:user/btp-bridge";
/// The role the app assumes.
pub const ROLE: &str = "arn:aws:iam::111122223333:role/btp-bridge-s3";
/// A session of that role.
pub const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/btp-bridge-s3/app";

/// Runs every case through `f` and fails once, listing every case whose answer differs.
#[track_caller]
pub fn check<I: Debug, O: Debug + PartialEq>(
    cases: impl IntoIterator<Item = (I, O)>,
    f: impl Fn(&I) -> O,
) {
    let mut failures = Vec::new();
    let mut count = 0;
    for (input, want) in cases {
        count += 1;
        let got = f(&input);
        if got != want {
            failures.push(format!("{input:?}\n    want {want:?}\n    got  {got:?}"));
        }
    }
    assert!(count > 0, "no cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A `2012-10-17` document of `kind` with the given statements (an array or one object).
pub fn doc(kind: PolicyKind, statements: Value) -> PolicyDocument {
    let text = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    PolicyDocument::from_json_as(&text, kind).unwrap_or_else(|e| panic!("{e}\nin {text}"))
}

/// An identity policy with the given statements.
pub fn identity(statements: Value) -> PolicyDocument {
    doc(PolicyKind::Identity, statements)
}

/// A request by the role session.
pub fn ctx(action: &str, resource: &str) -> RequestContext {
    RequestContext::new(SESSION, ACCT, action, resource)
}

/// `ctx` with condition keys.
pub fn ctx_with(action: &str, resource: &str, keys: &[(&str, &[&str])]) -> RequestContext {
    let mut c = ctx(action, resource);
    for (k, values) in keys {
        c.context_keys.insert(
            (*k).to_owned(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        );
    }
    c
}

/// Evaluates `ctx` against identity policies only.
pub fn decide(policies: &[&PolicyDocument], ctx: &RequestContext) -> Decision {
    evaluate(
        &Evaluation {
            identity: policies,
            ..Evaluation::default()
        },
        ctx,
    )
}

/// An explicit deny by the statement `sid`.
pub fn denied_by(sid: &str) -> Decision {
    Decision::ExplicitDeny {
        sid: Some(sid.to_owned()),
    }
}
