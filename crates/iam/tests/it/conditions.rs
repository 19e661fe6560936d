//! Every condition operator, with `IfExists`, `ForAnyValue:`/`ForAllValues:`, multi-valued
//! keys, missing keys (positive operators false, negated ones true — our reading of a nuance
//! IAM's documentation leaves open), key names case-insensitive, and policy variables.

use serde_json::{Value, json};

use crate::common::{check, ctx_with, decide, identity};

type Keys = &'static [(&'static str, &'static [&'static str])];

/// Whether an `Allow` with the condition block `block` allows a request with `keys`.
fn holds(block: &Value, keys: Keys) -> bool {
    let p = identity(
        json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*", "Condition": block}),
    );
    decide(&[&p], &ctx_with("s3:ListBucket", "arn:aws:s3:::docs", keys)).is_allowed()
}

/// Cases for one operator over one key: `(policy value, request values or None, expected)`.
fn run(op: &str, key: &str, cases: &[(Value, Option<&[&str]>, bool)]) {
    check(
        cases.iter().map(|(policy, request, want)| {
            let block = json!({ op: { key: policy } });
            let request: Vec<String> = request
                .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
                .unwrap_or_default();
            ((block, key.to_owned(), request), *want)
        }),
        |(block, key, request)| {
            let p = identity(
                json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*", "Condition": block}),
            );
            let mut c = ctx_with("s3:ListBucket", "arn:aws:s3:::docs", &[]);
            if !request.is_empty() {
                c.context_keys.insert(key.clone(), request.clone());
            }
            decide(&[&p], &c).is_allowed()
        },
    );
}

const MISSING: Option<&[&str]> = None;

#[test]
fn string_equals() {
    run(
        "StringEquals",
        "sts:ExternalId",
        &[
            (json!("abc"), Some(&["abc"]), true),
            (json!("abc"), Some(&["ABC"]), false),
            (json!("abc"), Some(&["abcd"]), false),
            (json!("abc"), MISSING, false),
            (json!(["x", "abc"]), Some(&["abc"]), true),
            (json!("a*"), Some(&["ab"]), false),
            (json!("a*"), Some(&["a*"]), true),
            // Several request values: any one matching is enough.
            (json!("a"), Some(&["b", "a"]), true),
            (json!(10), Some(&["10"]), true),
            (json!(true), Some(&["true"]), true),
        ],
    );
}

#[test]
fn string_not_equals() {
    run(
        "StringNotEquals",
        "aws:SourceVpce",
        &[
            (json!("vpce-1"), Some(&["vpce-1"]), false),
            (json!("vpce-1"), Some(&["vpce-2"]), true),
            (json!("vpce-1"), MISSING, true),
            (json!(["vpce-1", "vpce-2"]), Some(&["vpce-2"]), false),
            (json!(["vpce-1", "vpce-2"]), Some(&["vpce-3"]), true),
            // Several request values: true only if none matches.
            (json!("a"), Some(&["b", "a"]), false),
            (json!("a"), Some(&["b", "c"]), true),
        ],
    );
}

#[test]
fn string_ignore_case() {
    run(
        "StringEqualsIgnoreCase",
        "k",
        &[
            (json!("Abc"), Some(&["aBC"]), true),
            (json!("Abc"), Some(&["abd"]), false),
            (json!("Straße"), Some(&["STRASSE"]), false),
            (json!("ÄBC"), Some(&["äbc"]), true),
            (json!("Abc"), MISSING, false),
        ],
    );
    run(
        "StringNotEqualsIgnoreCase",
        "k",
        &[
            (json!("Abc"), Some(&["aBC"]), false),
            (json!("Abc"), Some(&["abd"]), true),
            (json!("Abc"), MISSING, true),
        ],
    );
}

#[test]
fn string_like() {
    run(
        "StringLike",
        "s3:prefix",
        &[
            (json!("home/*"), Some(&["home/alice/"]), true),
            (json!("home/*"), Some(&["home"]), false),
            (json!("home/*"), Some(&["Home/alice"]), false),
            (json!("home/?"), Some(&["home/a"]), true),
            (json!("home/?"), Some(&["home/ab"]), false),
            (json!(["tmp/*", "home/*"]), Some(&["home/x"]), true),
            (json!("*"), Some(&[""]), true),
            (json!("home/*"), MISSING, false),
        ],
    );
    run(
        "StringNotLike",
        "s3:prefix",
        &[
            (json!("home/*"), Some(&["home/x"]), false),
            (json!("home/*"), Some(&["tmp/x"]), true),
            (json!("home/*"), MISSING, true),
        ],
    );
}

#[test]
fn numeric() {
    run(
        "NumericEquals",
        "s3:max-keys",
        &[
            (json!(10), Some(&["10"]), true),
            (json!("10"), Some(&["10.0"]), true),
            (json!(10), Some(&["11"]), false),
            (json!(10), Some(&["ten"]), false),
            (json!(10), MISSING, false),
            (json!([5, 10]), Some(&["5"]), true),
        ],
    );
    run(
        "NumericNotEquals",
        "s3:max-keys",
        &[
            (json!(10), Some(&["10"]), false),
            (json!(10), Some(&["11"]), true),
            // Not a number: neither equal nor not equal.
            (json!(10), Some(&["ten"]), false),
            (json!(10), MISSING, true),
        ],
    );
    run(
        "NumericLessThan",
        "s3:max-keys",
        &[
            (json!(10), Some(&["9"]), true),
            (json!(10), Some(&["9.99"]), true),
            (json!(10), Some(&["10"]), false),
            (json!(10), Some(&["-1"]), true),
            (json!(10), MISSING, false),
        ],
    );
    run(
        "NumericLessThanEquals",
        "s3:max-keys",
        &[
            (json!(10), Some(&["10"]), true),
            (json!(10), Some(&["11"]), false),
        ],
    );
    run(
        "NumericGreaterThan",
        "s3:max-keys",
        &[
            (json!("2.5"), Some(&["3"]), true),
            (json!("2.5"), Some(&["2.5"]), false),
            (json!(1000), MISSING, false),
        ],
    );
    run(
        "NumericGreaterThanEquals",
        "s3:max-keys",
        &[
            (json!(1e3), Some(&["1000"]), true),
            (json!(1000), Some(&["999"]), false),
        ],
    );
}

#[test]
fn dates() {
    let cutoff = json!("2025-01-01T00:00:00Z");
    run(
        "DateLessThan",
        "aws:CurrentTime",
        &[
            (cutoff.clone(), Some(&["2024-12-31T23:59:59Z"]), true),
            (cutoff.clone(), Some(&["2025-01-01T00:00:00Z"]), false),
            (cutoff.clone(), Some(&["1735689599"]), true),
            (cutoff.clone(), Some(&["2025-01-01T00:30:00+01:00"]), true),
            (cutoff.clone(), Some(&["soon"]), false),
            (cutoff.clone(), MISSING, false),
            (json!(1735689600), Some(&["2024-12-31"]), true),
        ],
    );
    run(
        "DateLessThanEquals",
        "aws:CurrentTime",
        &[
            (cutoff.clone(), Some(&["2025-01-01T00:00:00.000Z"]), true),
            (cutoff.clone(), Some(&["2025-01-01T00:00:00.001Z"]), false),
        ],
    );
    run(
        "DateGreaterThan",
        "aws:TokenIssueTime",
        &[
            (cutoff.clone(), Some(&["2025-01-01T00:00:01Z"]), true),
            (cutoff.clone(), Some(&["2025-01-01"]), false),
        ],
    );
    run(
        "DateGreaterThanEquals",
        "aws:TokenIssueTime",
        &[
            (cutoff.clone(), Some(&["2025-01-01"]), true),
            (cutoff.clone(), Some(&["2024-12-31"]), false),
        ],
    );
    run(
        "DateEquals",
        "aws:CurrentTime",
        &[
            (cutoff.clone(), Some(&["1735689600"]), true),
            (cutoff.clone(), Some(&["2025-01-01T01:00:00+01:00"]), true),
            (cutoff.clone(), Some(&["2025-01-02"]), false),
        ],
    );
    run(
        "DateNotEquals",
        "aws:CurrentTime",
        &[
            (cutoff.clone(), Some(&["1735689600"]), false),
            (cutoff.clone(), Some(&["2025-01-02"]), true),
            (cutoff.clone(), Some(&["garbage"]), false),
            (cutoff, MISSING, true),
        ],
    );
}

#[test]
fn bool_binary_null() {
    run(
        "Bool",
        "aws:SecureTransport",
        &[
            (json!("true"), Some(&["true"]), true),
            (json!("true"), Some(&["TRUE"]), true),
            (json!("true"), Some(&["false"]), false),
            (json!("true"), Some(&["1"]), false),
            (json!(false), Some(&["false"]), true),
            (json!("true"), MISSING, false),
        ],
    );
    run(
        "BinaryEquals",
        "k",
        &[
            (json!("QmluYXJ5"), Some(&["QmluYXJ5"]), true),
            (json!("QmluYXJ5"), Some(&["QmluYXJ6"]), false),
            (json!("QmluYXJ5"), MISSING, false),
        ],
    );
    run(
        "Null",
        "aws:TokenIssueTime",
        &[
            (json!("true"), MISSING, true),
            (json!("true"), Some(&["2025-01-01"]), false),
            (json!(false), Some(&["2025-01-01"]), true),
            (json!("false"), MISSING, false),
            (json!(["true", "false"]), MISSING, true),
        ],
    );
}

#[test]
fn ip_addresses() {
    run(
        "IpAddress",
        "aws:SourceIp",
        &[
            (json!("203.0.113.0/24"), Some(&["203.0.113.7"]), true),
            (json!("203.0.113.0/24"), Some(&["198.51.100.1"]), false),
            (
                json!(["198.51.100.0/24", "203.0.113.0/24"]),
                Some(&["198.51.100.1"]),
                true,
            ),
            (json!("203.0.113.7"), Some(&["203.0.113.7"]), true),
            (json!("2001:db8::/32"), Some(&["2001:db8:1::1"]), true),
            (json!("2001:db8::/32"), Some(&["2001:db9::1"]), false),
            (json!("2001:db8::/32"), Some(&["203.0.113.7"]), false),
            (json!("203.0.113.0/24"), Some(&["not-an-ip"]), false),
            (json!("203.0.113.0/24"), MISSING, false),
        ],
    );
    run(
        "NotIpAddress",
        "aws:SourceIp",
        &[
            (json!("203.0.113.0/24"), Some(&["203.0.113.7"]), false),
            (json!("203.0.113.0/24"), Some(&["198.51.100.1"]), true),
            (json!("203.0.113.0/24"), Some(&["not-an-ip"]), false),
            (json!("203.0.113.0/24"), MISSING, true),
        ],
    );
}

#[test]
fn arns() {
    let schedules = json!("arn:aws:scheduler:*:111122223333:schedule/*");
    let mine = ["arn:aws:scheduler:eu-central-1:111122223333:schedule/default/nightly"];
    let theirs = ["arn:aws:scheduler:eu-central-1:444455556666:schedule/default/nightly"];
    for op in ["ArnLike", "ArnEquals"] {
        run(
            op,
            "aws:SourceArn",
            &[
                (schedules.clone(), Some(&mine), true),
                (schedules.clone(), Some(&theirs), false),
                (schedules.clone(), Some(&["not-an-arn"]), false),
                (
                    json!("arn:aws:scheduler:eu-central-1:111122223333:schedule/default/nightly"),
                    Some(&mine),
                    true,
                ),
                (
                    json!("ARN:aws:scheduler:eu-central-1:111122223333:schedule/default/nightly"),
                    Some(&mine),
                    false,
                ),
                (json!("arn:aws:*:*:111122223333:*"), Some(&mine), true),
                (json!("*"), Some(&["anything"]), true),
                (schedules.clone(), MISSING, false),
            ],
        );
    }
    for op in ["ArnNotLike", "ArnNotEquals"] {
        run(
            op,
            "aws:SourceArn",
            &[
                (schedules.clone(), Some(&mine), false),
                (schedules.clone(), Some(&theirs), true),
                (schedules.clone(), MISSING, true),
            ],
        );
    }
}

#[test]
fn if_exists() {
    run(
        "StringEqualsIfExists",
        "sts:ExternalId",
        &[
            (json!("abc"), MISSING, true),
            (json!("abc"), Some(&["abc"]), true),
            (json!("abc"), Some(&["xyz"]), false),
        ],
    );
    run(
        "StringNotEqualsIfExists",
        "sts:ExternalId",
        &[
            (json!("abc"), MISSING, true),
            (json!("abc"), Some(&["abc"]), false),
        ],
    );
    run(
        "NumericLessThanIfExists",
        "s3:max-keys",
        &[
            (json!(10), MISSING, true),
            (json!(10), Some(&["20"]), false),
        ],
    );
    run(
        "IpAddressIfExists",
        "aws:SourceIp",
        &[
            (json!("10.0.0.0/8"), MISSING, true),
            (json!("10.0.0.0/8"), Some(&["11.0.0.1"]), false),
        ],
    );
    run(
        "BoolIfExists",
        "aws:SecureTransport",
        &[(json!(true), MISSING, true)],
    );
    run(
        "DateLessThanIfExists",
        "aws:CurrentTime",
        &[(json!("2025-01-01"), MISSING, true)],
    );
    run(
        "ArnLikeIfExists",
        "aws:SourceArn",
        &[(json!("arn:aws:s3:::x"), MISSING, true)],
    );
}

#[test]
fn for_any_value() {
    let ab = json!(["a", "b"]);
    run(
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        &[
            (ab.clone(), Some(&["c", "a"]), true),
            (ab.clone(), Some(&["c"]), false),
            (ab.clone(), MISSING, false),
        ],
    );
    run(
        "ForAnyValue:StringNotEquals",
        "aws:TagKeys",
        &[
            (ab.clone(), Some(&["a", "c"]), true),
            (ab.clone(), Some(&["a", "b"]), false),
            (ab.clone(), MISSING, false),
        ],
    );
    run(
        "ForAnyValue:StringLike",
        "aws:TagKeys",
        &[
            (json!("team-*"), Some(&["owner", "team-x"]), true),
            (json!("team-*"), Some(&["owner"]), false),
        ],
    );
    run(
        "ForAnyValue:StringEqualsIfExists",
        "aws:TagKeys",
        &[(ab.clone(), MISSING, true), (ab, Some(&["c"]), false)],
    );
    run(
        "ForAnyValue:NumericGreaterThan",
        "n",
        &[
            (json!(5), Some(&["1", "9"]), true),
            (json!(5), Some(&["1", "x"]), false),
        ],
    );
}

#[test]
fn for_all_values() {
    let ab = json!(["a", "b"]);
    run(
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        &[
            (ab.clone(), Some(&["a", "b"]), true),
            (ab.clone(), Some(&["a"]), true),
            (ab.clone(), Some(&["a", "c"]), false),
            // An empty set satisfies "for all".
            (ab.clone(), MISSING, true),
        ],
    );
    run(
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        &[
            (json!("a"), Some(&["b", "c"]), true),
            (json!("a"), Some(&["a", "b"]), false),
            (json!("a"), MISSING, true),
        ],
    );
    run(
        "ForAllValues:StringLikeIfExists",
        "aws:TagKeys",
        &[
            (json!("team-*"), Some(&["team-a", "team-b"]), true),
            (json!("team-*"), Some(&["team-a", "owner"]), false),
            (json!("team-*"), MISSING, true),
        ],
    );
    run(
        "ForAllValues:IpAddress",
        "ips",
        &[
            (json!("10.0.0.0/8"), Some(&["10.1.1.1", "10.2.2.2"]), true),
            (json!("10.0.0.0/8"), Some(&["10.1.1.1", "11.2.2.2"]), false),
        ],
    );
}

#[test]
fn operators_keys_and_values_combine() {
    // Operators AND.
    let block =
        json!({"StringEquals": {"sts:ExternalId": "abc"}, "Bool": {"aws:SecureTransport": "true"}});
    // Keys of one operator AND.
    let keys = json!({"StringEquals": {"s3:prefix": "home/", "s3:delimiter": "/"}});
    let cases: Vec<((Value, Keys), bool)> = vec![
        (
            (
                block.clone(),
                &[
                    ("sts:ExternalId", &["abc"]),
                    ("aws:SecureTransport", &["true"]),
                ],
            ),
            true,
        ),
        (
            (
                block.clone(),
                &[
                    ("sts:ExternalId", &["abc"]),
                    ("aws:SecureTransport", &["false"]),
                ],
            ),
            false,
        ),
        ((block.clone(), &[("sts:ExternalId", &["abc"])]), false),
        (
            (
                keys.clone(),
                &[("s3:prefix", &["home/"]), ("s3:delimiter", &["/"])],
            ),
            true,
        ),
        ((keys.clone(), &[("s3:prefix", &["home/"])]), false),
        (
            (keys, &[("s3:prefix", &["home/"]), ("s3:delimiter", &["-"])]),
            false,
        ),
        // Key names are case-insensitive, in the policy and in the request.
        (
            (
                json!({"StringEquals": {"STS:EXTERNALID": "abc"}}),
                &[("sts:externalid", &["abc"])],
            ),
            true,
        ),
        (
            (
                json!({"StringEquals": {"sts:ExternalId": "abc"}}),
                &[("Sts:ExternalID", &["abc"])],
            ),
            true,
        ),
        // A key given with no values counts as missing.
        ((json!({"Null": {"k": "true"}}), &[("k", &[])]), true),
        (
            (json!({"StringNotEquals": {"k": "v"}}), &[("k", &[])]),
            true,
        ),
        // An empty Condition object holds.
        ((json!({}), &[]), true),
    ];
    check(cases, |(block, keys)| holds(block, keys));
}

#[test]
fn policy_variables_and_derived_keys() {
    let cases: Vec<((Value, Keys), bool)> = vec![
        (
            (
                json!({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}),
                &[
                    ("aws:username", &["alice"]),
                    ("s3:prefix", &["home/alice/"]),
                ],
            ),
            true,
        ),
        (
            (
                json!({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}),
                &[("aws:username", &["alice"]), ("s3:prefix", &["home/bob/"])],
            ),
            false,
        ),
        (
            (
                json!({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}),
                &[
                    ("aws:username", &["alice"]),
                    ("s3:prefix", &["home/alice/x"]),
                ],
            ),
            true,
        ),
        (
            (
                json!({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}),
                &[("s3:prefix", &["home//"])],
            ),
            false,
        ),
        (
            (
                json!({"StringEquals": {"s3:prefix": "home/${aws:username, 'guest'}/"}}),
                &[("s3:prefix", &["home/guest/"])],
            ),
            true,
        ),
        // aws:PrincipalArn and aws:PrincipalAccount come from the request's principal.
        (
            (
                json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:sts::111122223333:assumed-role/btp-bridge-s3/*"}}),
                &[],
            ),
            true,
        ),
        (
            (
                json!({"StringEquals": {"aws:PrincipalAccount": "111122223333"}}),
                &[],
            ),
            true,
        ),
        (
            (
                json!({"StringEquals": {"aws:PrincipalAccount": "444455556666"}}),
                &[],
            ),
            false,
        ),
        // An explicit key wins over the derived one.
        (
            (
                json!({"StringEquals": {"aws:PrincipalAccount": "444455556666"}}),
                &[("aws:PrincipalAccount", &["444455556666"])],
            ),
            true,
        ),
    ];
    check(cases, |(block, keys)| holds(block, keys));
}
