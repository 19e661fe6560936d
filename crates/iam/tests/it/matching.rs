//! Matching: actions (case-insensitive, `*`/`?`), resource ARNs (case-sensitive, segment
//! rules, the bucket-vs-object trap), policy variables, and principals.

use iam::{Decision, Evaluation, PolicyKind, RequestContext, evaluate};
use serde_json::json;

use crate::common::{ACCT, OTHER_ACCT, SESSION, USER, check, ctx, ctx_with, decide, doc, identity};

/// Whether an `Allow` of `pattern` on `*` allows `action`.
fn action_allowed(pattern: &str, action: &str) -> bool {
    let p = identity(json!({"Effect": "Allow", "Action": pattern, "Resource": "*"}));
    decide(&[&p], &ctx(action, "arn:aws:s3:::docs/a")).is_allowed()
}

#[test]
fn actions() {
    check(
        [
            (("s3:GetObject", "s3:GetObject"), true),
            (("s3:getobject", "S3:GETOBJECT"), true),
            (("S3:GetObject", "s3:getObject"), true),
            (("s3:GetObject", "s3:GetObjectAcl"), false),
            (("s3:GetObject", "s3:GetObjec"), false),
            (("s3:Get*", "s3:GetObjectAcl"), true),
            (("s3:Get*", "s3:get"), true),
            (("s3:Get*", "s3:PutObject"), false),
            (("s3:*", "s3:ListBucket"), true),
            (("s3:*", "sts:AssumeRole"), false),
            (("s3:*", "s3x:GetObject"), false),
            (("*", "sts:AssumeRole"), true),
            (("s3:?etObject", "s3:GetObject"), true),
            (("s3:?etObject", "s3:GGetObject"), false),
            (("s3:*Object", "s3:GetObject"), true),
            (("s3:*Object", "s3:GetObjectTagging"), false),
            (("s3:*Multipart*", "s3:AbortMultipartUpload"), true),
            (("s3:*Multipart*", "s3:ListBucketMultipartUploads"), true),
            (("sts:AssumeRole", "sts:AssumeRoleWithSAML"), false),
            (("sts:AssumeRole*", "sts:AssumeRoleWithSAML"), true),
        ],
        |(pattern, action)| action_allowed(pattern, action),
    );
}

#[test]
fn not_action() {
    let p =
        identity(json!({"Effect": "Allow", "NotAction": ["s3:Delete*", "iam:*"], "Resource": "*"}));
    check(
        [
            ("s3:GetObject", Decision::Allow),
            ("s3:DeleteObject", Decision::ImplicitDeny),
            ("S3:DELETEBUCKET", Decision::ImplicitDeny),
            ("iam:CreateUser", Decision::ImplicitDeny),
            ("sts:AssumeRole", Decision::Allow),
        ],
        |action| decide(&[&p], &ctx(action, "*")),
    );
}

/// Whether an `Allow` of `s3:GetObject` on `pattern` allows it on `resource`.
fn resource_allowed(pattern: &str, resource: &str) -> bool {
    let p = identity(json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": pattern}));
    decide(&[&p], &ctx("s3:GetObject", resource)).is_allowed()
}

#[test]
fn resources() {
    check(
        [
            // The bucket-vs-object trap: `b/*` is the objects, not the bucket.
            (("arn:aws:s3:::docs/*", "arn:aws:s3:::docs/a.pdf"), true),
            (("arn:aws:s3:::docs/*", "arn:aws:s3:::docs"), false),
            (("arn:aws:s3:::docs/*", "arn:aws:s3:::docs/"), true),
            (("arn:aws:s3:::docs", "arn:aws:s3:::docs/a.pdf"), false),
            (("arn:aws:s3:::docs", "arn:aws:s3:::docs"), true),
            // A trailing `*` in the bucket name also covers other buckets.
            (("arn:aws:s3:::docs*", "arn:aws:s3:::docs/a"), true),
            (("arn:aws:s3:::docs*", "arn:aws:s3:::docs-archive"), true),
            (
                ("arn:aws:s3:::docs/*", "arn:aws:s3:::docs-archive/a"),
                false,
            ),
            // Case-sensitive, everywhere.
            (("arn:aws:s3:::Docs/*", "arn:aws:s3:::docs/a"), false),
            (("arn:aws:s3:::docs/A*", "arn:aws:s3:::docs/a.txt"), false),
            (("arn:aws:s3:::docs/*", "arn:aws:S3:::docs/a"), false),
            (("arn:aws:s3:::docs/*", "ARN:aws:s3:::docs/a"), false),
            // In the resource segment, `*` runs across `/` and `:`.
            (
                ("arn:aws:s3:::docs/*", "arn:aws:s3:::docs/dir/sub/x:y"),
                true,
            ),
            (
                ("arn:aws:s3:::docs/*.pdf", "arn:aws:s3:::docs/dir/a.pdf"),
                true,
            ),
            (
                ("arn:aws:s3:::docs/*.pdf", "arn:aws:s3:::docs/dir/a.txt"),
                false,
            ),
            (("arn:aws:s3:::docs/?", "arn:aws:s3:::docs/a"), true),
            (("arn:aws:s3:::docs/?", "arn:aws:s3:::docs/ab"), false),
            (("arn:aws:s3:::docs/?", "arn:aws:s3:::docs/é"), true),
            (("arn:aws:s3:::*", "arn:aws:s3:::any/key"), true),
            (("arn:aws:s3:::*", "arn:aws:s3:::any"), true),
            // A short pattern ending in `*` runs across the remaining `:`.
            (("arn:aws:s3:*", "arn:aws:s3:::docs/a"), true),
            (
                ("arn:aws:s3:*", "arn:aws:sqs:eu-central-1:111122223333:q"),
                false,
            ),
            (
                (
                    "arn:aws:dynamodb:eu-*",
                    "arn:aws:dynamodb:eu-central-1:111122223333:table/jobs",
                ),
                true,
            ),
            (
                (
                    "arn:aws:dynamodb:eu-*",
                    "arn:aws:dynamodb:us-east-1:111122223333:table/jobs",
                ),
                false,
            ),
            // `*` alone matches everything, including the `*` of ListAllMyBuckets; an ARN
            // pattern matches ARNs only.
            (("*", "*"), true),
            (("*", "arn:aws:s3:::docs"), true),
            (("*", "not-an-arn"), true),
            (("arn:aws:s3:::*", "*"), false),
            (("arn:aws:s3:::docs", "docs"), false),
            // Segment wildcards stay within their segment.
            (
                ("arn:aws:iam::*:role/x", "arn:aws:iam::111122223333:role/x"),
                true,
            ),
            (
                (
                    "arn:aws:iam::1111*:role/x",
                    "arn:aws:iam::111122223333:role/x",
                ),
                true,
            ),
            (
                (
                    "arn:aws:iam::????????????:role/x",
                    "arn:aws:iam::111122223333:role/x",
                ),
                true,
            ),
            (
                (
                    "arn:aws:iam::???????????:role/x",
                    "arn:aws:iam::111122223333:role/x",
                ),
                false,
            ),
            (
                (
                    "arn:aws:iam::*:role/x",
                    "arn:aws:iam::111122223333:role/x/y",
                ),
                false,
            ),
            (
                (
                    "arn:aws:dynamodb:*:*:table/jobs",
                    "arn:aws:dynamodb:eu-central-1:111122223333:table/jobs",
                ),
                true,
            ),
            (
                (
                    "arn:aws:dynamodb:*:*:table/jobs/index/*",
                    "arn:aws:dynamodb:eu-central-1:111122223333:table/jobs/index/byDate",
                ),
                true,
            ),
            (
                (
                    "arn:aws:dynamodb:*:*:table/jobs",
                    "arn:aws:dynamodb:eu-central-1:111122223333:table/jobs/index/byDate",
                ),
                false,
            ),
            (("arn:*:s3:::docs", "arn:aws-cn:s3:::docs"), true),
        ],
        |(pattern, resource)| resource_allowed(pattern, resource),
    );
}

#[test]
fn not_resource() {
    let p = identity(
        json!({"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::secret", "arn:aws:s3:::secret/*"]}),
    );
    check(
        [
            ("arn:aws:s3:::docs/a", Decision::Allow),
            ("arn:aws:s3:::secret/a", Decision::ImplicitDeny),
            ("arn:aws:s3:::secret", Decision::ImplicitDeny),
            ("arn:aws:s3:::secretive", Decision::Allow),
        ],
        |resource| decide(&[&p], &ctx("s3:GetObject", resource)),
    );
}

#[test]
fn policy_variables_in_resources() {
    let statement = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::docs/home/${aws:username}/*"});
    let current = identity(statement.clone());
    let text = json!({"Version": "2008-10-17", "Statement": statement}).to_string();
    let legacy = iam::PolicyDocument::from_json(&text).unwrap();
    let alice =
        |resource: &str| ctx_with("s3:GetObject", resource, &[("aws:username", &["alice"])]);
    check(
        [
            ((true, alice("arn:aws:s3:::docs/home/alice/x")), true),
            ((true, alice("arn:aws:s3:::docs/home/bob/x")), false),
            // Without a value the pattern matches nothing.
            (
                (true, ctx("s3:GetObject", "arn:aws:s3:::docs/home/alice/x")),
                false,
            ),
            // In 2008-10-17 documents `${…}` is literal text.
            ((false, alice("arn:aws:s3:::docs/home/alice/x")), false),
            (
                (false, alice("arn:aws:s3:::docs/home/${aws:username}/x")),
                true,
            ),
        ],
        |(current_version, c)| {
            let p = if *current_version { &current } else { &legacy };
            decide(&[p], c).is_allowed()
        },
    );
    // The account of the caller, in the account segment (a `:` inside the variable).
    let own = identity(
        json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::${aws:PrincipalAccount}:role/*"}),
    );
    assert!(
        decide(
            &[&own],
            &ctx("sts:AssumeRole", "arn:aws:iam::111122223333:role/r")
        )
        .is_allowed()
    );
    assert!(
        !decide(
            &[&own],
            &ctx("sts:AssumeRole", "arn:aws:iam::444455556666:role/r")
        )
        .is_allowed()
    );
}

/// Whether a bucket-policy `Deny` naming `principal` matches the caller `who` (the caller is
/// otherwise allowed everything by its identity policy).
fn principal_matches(principal: &serde_json::Value, who: &(&str, &str)) -> bool {
    let allow_all = identity(json!({"Effect": "Allow", "Action": "*", "Resource": "*"}));
    let bucket = doc(
        PolicyKind::Resource,
        json!({"Sid": "Hit", "Effect": "Deny", "Principal": principal, "Action": "s3:*", "Resource": "*"}),
    );
    let c = RequestContext::new(who.0, who.1, "s3:GetObject", "arn:aws:s3:::docs/a");
    let d = evaluate(
        &Evaluation {
            identity: &[&allow_all],
            resource: Some(&bucket),
            session: None,
        },
        &c,
    );
    d != Decision::Allow
}

#[test]
fn principals() {
    let other_user = ("arn:aws:iam::111122223333:user/someone", ACCT);
    let foreign_user = ("arn:aws:iam::444455556666:user/btp-bridge", OTHER_ACCT);
    let user = (USER, ACCT);
    let session = (SESSION, ACCT);
    let other_session = ("arn:aws:sts::111122223333:assumed-role/other/app", ACCT);
    let service = ("scheduler.amazonaws.com", "");
    let role = "arn:aws:iam::111122223333:role/btp-bridge-s3";
    check(
        [
            ((json!("*"), user), true),
            ((json!("*"), service), true),
            ((json!({"AWS": "*"}), user), true),
            ((json!({"AWS": "*"}), foreign_user), true),
            ((json!({"AWS": "*"}), service), false),
            ((json!({"AWS": ACCT}), user), true),
            ((json!({"AWS": ACCT}), session), true),
            ((json!({"AWS": ACCT}), foreign_user), false),
            (
                (json!({"AWS": "arn:aws:iam::111122223333:root"}), other_user),
                true,
            ),
            (
                (
                    json!({"AWS": "arn:aws:iam::111122223333:root"}),
                    foreign_user,
                ),
                false,
            ),
            ((json!({"AWS": USER}), user), true),
            ((json!({"AWS": USER}), other_user), false),
            ((json!({"AWS": USER}), foreign_user), false),
            ((json!({"AWS": [OTHER_ACCT, USER]}), user), true),
            ((json!({"AWS": [OTHER_ACCT, USER]}), foreign_user), true),
            // A role ARN covers the role's sessions; the path is not part of a session ARN.
            ((json!({"AWS": role}), session), true),
            ((json!({"AWS": role}), other_session), false),
            (
                (
                    json!({"AWS": "arn:aws:iam::111122223333:role/team/btp-bridge-s3"}),
                    session,
                ),
                true,
            ),
            (
                (
                    json!({"AWS": role}),
                    ("arn:aws:sts::111122223333:assumed-role/btp-bridge-s3", ACCT),
                ),
                false,
            ),
            (
                (
                    json!({"AWS": role}),
                    (
                        "arn:aws:sts::444455556666:assumed-role/btp-bridge-s3/app",
                        OTHER_ACCT,
                    ),
                ),
                false,
            ),
            ((json!({"AWS": SESSION}), session), true),
            ((json!({"AWS": SESSION}), other_session), false),
            (
                (json!({"Service": "scheduler.amazonaws.com"}), service),
                true,
            ),
            (
                (json!({"Service": "Scheduler.AmazonAWS.com"}), service),
                true,
            ),
            ((json!({"Service": "lambda.amazonaws.com"}), service), false),
            ((json!({"Service": "scheduler.amazonaws.com"}), user), false),
        ],
        |(principal, who)| principal_matches(principal, who),
    );
}

#[test]
fn not_principal() {
    let allow_all = identity(json!({"Effect": "Allow", "Action": "*", "Resource": "*"}));
    let bucket = doc(
        PolicyKind::Resource,
        json!({"Sid": "OnlyTheApp", "Effect": "Deny", "NotPrincipal": {"AWS": [USER, "arn:aws:iam::111122223333:role/btp-bridge-s3"]}, "Action": "s3:*", "Resource": ["arn:aws:s3:::docs", "arn:aws:s3:::docs/*"]}),
    );
    check(
        [
            (USER, Decision::Allow),
            (SESSION, Decision::Allow),
            (
                "arn:aws:iam::111122223333:user/someone",
                crate::common::denied_by("OnlyTheApp"),
            ),
        ],
        |who| {
            evaluate(
                &Evaluation {
                    identity: &[&allow_all],
                    resource: Some(&bucket),
                    session: None,
                },
                &RequestContext::new(*who, ACCT, "s3:GetObject", "arn:aws:s3:::docs/a"),
            )
        },
    );
}
