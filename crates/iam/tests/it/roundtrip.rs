//! Parse → `to_json` → parse gives an equal document, and the JSON written is the JSON read
//! (strings stay strings, arrays stay arrays, numbers and booleans keep their type).

use iam::PolicyKind::{self, Identity, Resource, Trust};
use iam::deploy;
use iam::{PolicyDocument, template};
use serde_json::Value;

use crate::common::check;

fn documents() -> Vec<(PolicyKind, String)> {
    let dev = deploy::Values {
        account_id: "000000000000",
        bucket_name: "docs",
        external_id: "ext-1",
    };
    let render = |t: &str| template::render(t, &dev.pairs()).unwrap();
    let user: Value = serde_json::from_str(&render(deploy::USER_JSON)).unwrap();
    vec![
        (Trust, render(deploy::ROLE_TRUST_POLICY_JSON)),
        (Identity, render(deploy::ROLE_PERMISSION_POLICY_JSON)),
        (Identity, user["PolicyDocument"].to_string()),
        (
            Identity,
            r#"{"Statement": {"Effect": "Deny", "NotAction": ["s3:Delete*"], "NotResource": "arn:aws:s3:::docs/*"}}"#
                .to_owned(),
        ),
        (
            Resource,
            r#"{
                "Version": "2012-10-17", "Id": "BucketPolicy",
                "Statement": [
                    {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:role/r"], "Service": "scheduler.amazonaws.com"},
                     "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::docs/*"]},
                    {"Sid": "B", "Effect": "Deny", "NotPrincipal": "*", "Action": ["s3:*"], "Resource": "*",
                     "Condition": {
                        "StringNotEqualsIfExists": {"aws:SourceVpce": ["vpce-1", "vpce-2"]},
                        "NumericLessThan": {"s3:max-keys": 10, "n": "2.5"},
                        "Bool": {"aws:SecureTransport": false},
                        "ForAllValues:StringLike": {"aws:TagKeys": ["team-*"]},
                        "DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"},
                        "IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
                        "Null": {"aws:TokenIssueTime": "true"},
                        "ArnLike": {"aws:SourceArn": "arn:aws:scheduler:*:111122223333:schedule/*"}
                     }}
                ]
            }"#
            .to_owned(),
        ),
        (
            Identity,
            r#"{"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::${literal}"}]}"#.to_owned(),
        ),
    ]
}

#[test]
fn parse_write_parse() {
    check(
        documents().into_iter().map(|d| (d, (true, true, true))),
        |(kind, text)| {
            let first = PolicyDocument::from_json_as(text, *kind).unwrap();
            let written = first.to_json();
            let second = PolicyDocument::from_json_as(&written, *kind).unwrap();
            let pretty = PolicyDocument::from_json_as(&first.to_string(), *kind).unwrap();
            let same_json = serde_json::from_str::<Value>(&written).unwrap()
                == serde_json::from_str::<Value>(text).unwrap();
            (first == second, first == pretty, same_json)
        },
    );
}

#[test]
fn elements_come_out_in_the_conventional_order() {
    let text = r#"{"Statement": [{"Condition": {"Bool": {"k": "true"}}, "Resource": "*", "Action": "*", "Effect": "Allow", "Sid": "S"}], "Version": "2012-10-17"}"#;
    let written = PolicyDocument::from_json(text).unwrap().to_json();
    assert_eq!(
        written,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"k":"true"}}}]}"#
    );
}

#[test]
fn numbers_with_more_digits_than_an_f64_round_trip() {
    // With serde_json's default float parser, `184467440737.9551615` read back from the
    // written `184467440737.95514` was one unit off, so the document changed (found by
    // `cargo xtask soak`, target `iam`); the workspace turns on serde_json's `float_roundtrip`.
    let text = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
        "Resource": "*", "Condition": {"NumericLessThanEquals": {"s3:max-keys": [184467440737.9551615, 118446744073709551616]}}}]}"#;
    let first = PolicyDocument::from_json_as(text, Identity).unwrap();
    let second = PolicyDocument::from_json_as(&first.to_json(), Identity).unwrap();
    assert_eq!(second, first);
}
