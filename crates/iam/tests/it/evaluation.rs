//! IAM's evaluation order (docs/protocols.md §Evaluation): implicit deny by default, explicit
//! deny wins over any allow, identity ∪ resource policy, session policies cap, cross-account
//! needs both.

use iam::{Decision, Evaluation, PolicyDocument, PolicyKind, RequestContext, evaluate};
use serde_json::json;

use crate::common::{
    ACCT, OTHER_ACCT, ROLE, SESSION, check, ctx, ctx_with, decide, denied_by, doc, identity,
};

fn eval(
    identity: &[&PolicyDocument],
    resource: Option<&PolicyDocument>,
    session: Option<&PolicyDocument>,
    c: &RequestContext,
) -> Decision {
    evaluate(
        &Evaluation {
            identity,
            resource,
            session,
        },
        c,
    )
}

#[test]
fn implicit_deny_by_default() {
    assert_eq!(
        decide(&[], &ctx("s3:GetObject", "arn:aws:s3:::docs/a")),
        Decision::ImplicitDeny
    );
    let p = identity(
        json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::docs/*"}),
    );
    check(
        [
            (("s3:GetObject", "arn:aws:s3:::docs/a"), Decision::Allow),
            (
                ("s3:PutObject", "arn:aws:s3:::docs/a"),
                Decision::ImplicitDeny,
            ),
            (
                ("s3:GetObject", "arn:aws:s3:::other/a"),
                Decision::ImplicitDeny,
            ),
        ],
        |(action, resource)| decide(&[&p], &ctx(action, resource)),
    );
}

#[test]
fn explicit_deny_beats_allow_from_another_policy() {
    let allow = identity(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}));
    let deny = identity(json!([
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:PutBucketPolicy", "Resource": "*"}
    ]));
    check(
        [
            ("s3:GetObject", Decision::Allow),
            ("s3:DeleteObject", denied_by("NoDelete")),
            ("s3:PutBucketPolicy", Decision::ExplicitDeny { sid: None }),
        ],
        |action| {
            // Order of the policies does not matter.
            let a = decide(&[&allow, &deny], &ctx(action, "arn:aws:s3:::docs/a"));
            let b = decide(&[&deny, &allow], &ctx(action, "arn:aws:s3:::docs/a"));
            assert_eq!(a, b);
            a
        },
    );
    // Within one policy, too.
    let both = identity(json!([
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "Never", "Effect": "Deny", "Action": "*", "Resource": "*"}
    ]));
    assert_eq!(
        decide(&[&both], &ctx("s3:GetObject", "*")),
        denied_by("Never")
    );
}

#[test]
fn resource_policy_deny_beats_identity_allow() {
    // The private-endpoint pattern: deny everything not coming through the VPC endpoint.
    let allow = identity(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}));
    let bucket = doc(
        PolicyKind::Resource,
        json!({
            "Sid": "OnlyThroughTheEndpoint", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::docs", "arn:aws:s3:::docs/*"],
            "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}
        }),
    );
    let get = |vpce: &[&str]| {
        let keys: Vec<(&str, &[&str])> = if vpce.is_empty() {
            vec![]
        } else {
            vec![("aws:SourceVpce", vpce)]
        };
        ctx_with("s3:GetObject", "arn:aws:s3:::docs/a", &keys)
    };
    check(
        [
            (vec!["vpce-1a2b3c4d"], Decision::Allow),
            (vec!["vpce-other"], denied_by("OnlyThroughTheEndpoint")),
            // Key missing: the negated operator holds, so the deny applies.
            (vec![], denied_by("OnlyThroughTheEndpoint")),
        ],
        |vpce| eval(&[&allow], Some(&bucket), None, &get(vpce)),
    );
}

#[test]
fn resource_policy_is_a_union_with_identity() {
    let bucket = doc(
        PolicyKind::Resource,
        json!([
            {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::docs/*"},
            {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::docs/*"}
        ]),
    );
    let puts = identity(json!({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}));
    let lists = identity(json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}));
    check(
        [
            // The bucket policy names the caller's role: enough on its own.
            (("s3:GetObject", false), Decision::Allow),
            // It names only the account: the account's identity policies must allow too.
            (("s3:PutObject", false), Decision::ImplicitDeny),
            (("s3:PutObject", true), Decision::Allow),
            // Identity policies alone are enough as well.
            (("s3:ListBucket", true), Decision::Allow),
            (("s3:DeleteObject", true), Decision::ImplicitDeny),
        ],
        |(action, with_identity)| {
            let ids: Vec<&PolicyDocument> = if *with_identity {
                vec![&puts, &lists]
            } else {
                vec![]
            };
            eval(
                &ids,
                Some(&bucket),
                None,
                &ctx(action, "arn:aws:s3:::docs/a"),
            )
        },
    );
}

#[test]
fn session_policy_caps() {
    let role = identity(
        json!({"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::docs", "arn:aws:s3:::docs/*"]}),
    );
    let session = identity(
        json!({"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}),
    );
    let session_deny = identity(json!([
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "ReadOnly", "Effect": "Deny", "Action": "s3:Put*", "Resource": "*"}
    ]));
    let bucket = doc(
        PolicyKind::Resource,
        json!({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::docs/*"}),
    );
    check(
        [
            // Both the role and the session policy allow.
            (("s3:GetObject", "arn:aws:s3:::docs/a", 0), Decision::Allow),
            // The role allows, the session policy does not.
            (
                ("s3:PutObject", "arn:aws:s3:::docs/a", 0),
                Decision::ImplicitDeny,
            ),
            // The session policy allows, the role does not: never more than the role.
            (
                ("s3:GetObject", "arn:aws:s3:::other/a", 0),
                Decision::ImplicitDeny,
            ),
            // A resource-policy grant is capped as well.
            (
                ("s3:DeleteObject", "arn:aws:s3:::docs/a", 2),
                Decision::ImplicitDeny,
            ),
            // A Deny in the session policy is an explicit deny.
            (
                ("s3:PutObject", "arn:aws:s3:::docs/a", 1),
                denied_by("ReadOnly"),
            ),
            (("s3:GetObject", "arn:aws:s3:::docs/a", 1), Decision::Allow),
        ],
        |(action, resource, which)| {
            let (s, r) = match which {
                0 => (&session, None),
                1 => (&session_deny, None),
                _ => (&session, Some(&bucket)),
            };
            eval(&[&role], r, Some(s), &ctx(action, resource))
        },
    );
    // Without the session policy the resource-policy grant stands.
    assert_eq!(
        eval(
            &[],
            Some(&bucket),
            None,
            &ctx("s3:DeleteObject", "arn:aws:s3:::docs/a")
        ),
        Decision::Allow
    );
}

#[test]
fn cross_account_needs_both() {
    let table = format!("arn:aws:dynamodb:eu-central-1:{OTHER_ACCT}:table/jobs");
    let own_table = format!("arn:aws:dynamodb:eu-central-1:{ACCT}:table/jobs");
    let ident = identity(json!({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}));
    let resource = doc(
        PolicyKind::Resource,
        json!({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "dynamodb:GetItem", "Resource": "*"}),
    );
    check(
        [
            ((table.clone(), true, false), Decision::ImplicitDeny),
            ((table.clone(), false, true), Decision::ImplicitDeny),
            ((table.clone(), true, true), Decision::Allow),
            ((own_table, true, false), Decision::Allow),
        ],
        |(res, with_identity, with_resource)| {
            let ids: Vec<&PolicyDocument> = if *with_identity { vec![&ident] } else { vec![] };
            eval(
                &ids,
                with_resource.then_some(&resource),
                None,
                &ctx("dynamodb:GetItem", res),
            )
        },
    );
}

#[test]
fn explain_and_messages() {
    check(
        [
            (Decision::Allow, "allowed".to_owned()),
            (
                Decision::ImplicitDeny,
                "implicitly denied: no policy statement allows the request".to_owned(),
            ),
            (
                denied_by("NoDelete"),
                r#"explicitly denied by statement "NoDelete""#.to_owned(),
            ),
            (
                Decision::ExplicitDeny { sid: None },
                "explicitly denied by a Deny statement without Sid".to_owned(),
            ),
        ],
        |d| {
            assert_eq!(d.to_string(), d.explain());
            d.explain()
        },
    );
    assert!(Decision::Allow.is_allowed());
    assert!(!Decision::ImplicitDeny.is_allowed());
    assert!(!denied_by("x").is_allowed());
    let c = RequestContext::new(crate::common::USER, ACCT, "sts:AssumeRole", ROLE);
    assert_eq!(
        c.access_denied_message(),
        "User: arn:aws:iam::111122223333:user/btp-bridge is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/btp-bridge-s3"
    );
}

#[test]
fn request_context_builders() {
    let c = RequestContext::new(SESSION, ACCT, "s3:ListBucket", "arn:aws:s3:::docs")
        .with_key("s3:prefix", "a/")
        .with_key("s3:prefix", "b/");
    assert_eq!(c.context_keys["s3:prefix"], ["a/", "b/"]);
    let d = c.for_action("s3:GetObject", "arn:aws:s3:::docs/k");
    assert_eq!(
        (d.action.as_str(), d.resource.as_str()),
        ("s3:GetObject", "arn:aws:s3:::docs/k")
    );
    assert_eq!(d.context_keys, c.context_keys);
}
