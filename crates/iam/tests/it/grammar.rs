//! The policy grammar (docs/protocols.md §Policy grammar): every element's errors, by path and
//! message — the text the local STS returns as `MalformedPolicyDocument`.

use iam::PolicyKind::{self, Identity, Resource, Trust};
use iam::{PolicyDocument, PolicyError, Version};

use crate::common::check;

fn parse(kind: PolicyKind, text: &str) -> Result<(), String> {
    PolicyDocument::from_json_as(text, kind)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A document with one statement array holding `statements` (JSON text).
fn stmts(statements: &str) -> String {
    format!(r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#)
}

/// A statement with `extra` elements after a valid Effect/Action/Resource.
fn with(extra: &str) -> String {
    stmts(&format!(
        r#"{{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"{extra}}}"#
    ))
}

/// An identity statement with a condition block (JSON text).
fn cond(block: &str) -> String {
    with(&format!(r#", "Condition": {block}"#))
}

fn err(s: &str) -> Result<(), String> {
    Err(s.to_owned())
}

#[test]
fn document_level() {
    check(
        [
            (
                (Identity, "".to_owned()),
                err("malformed JSON at line 1, column 0: EOF while parsing a value"),
            ),
            (
                (Identity, "{".to_owned()),
                err("malformed JSON at line 1, column 1: EOF while parsing an object"),
            ),
            (
                (Identity, "{} x".to_owned()),
                err("malformed JSON at line 1, column 4: trailing characters"),
            ),
            (
                (Identity, "[]".to_owned()),
                err("(document): expected a JSON object with Version and Statement"),
            ),
            (
                (Identity, r#"{"Version": "2012-10-17"}"#.to_owned()),
                err("Statement: missing"),
            ),
            (
                (
                    Identity,
                    r#"{"Version": "2013-01-01", "Statement": []}"#.to_owned(),
                ),
                err(r#"Version: expected "2012-10-17" or "2008-10-17""#),
            ),
            (
                (Identity, r#"{"Version": 2012, "Statement": []}"#.to_owned()),
                err(r#"Version: expected "2012-10-17" or "2008-10-17""#),
            ),
            (
                (
                    Identity,
                    r#"{"Version": "2012-10-17", "Id": 5, "Statement": []}"#.to_owned(),
                ),
                err("Id: expected a string"),
            ),
            (
                (
                    Identity,
                    r#"{"Version": "2012-10-17", "Statements": []}"#.to_owned(),
                ),
                err("Statements: unknown element (a document has Version, Id and Statement)"),
            ),
            (
                (
                    Identity,
                    r#"{"Version": "2012-10-17", "Statement": "x"}"#.to_owned(),
                ),
                err("Statement: expected an object or an array of objects"),
            ),
            (
                (
                    Identity,
                    r#"{"Version": "2012-10-17", "Statement": []}"#.to_owned(),
                ),
                err("Statement: must hold at least one statement"),
            ),
            (
                (Identity, stmts("1")),
                err("Statement[0]: expected an object"),
            ),
            // No Version is accepted (it means 2008-10-17, as in IAM).
            (
                (
                    Identity,
                    r#"{"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}"#
                        .to_owned(),
                ),
                Ok(()),
            ),
        ],
        |(kind, text)| parse(*kind, text),
    );
}

#[test]
fn sid_and_effect() {
    let ok = r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#;
    check(
        [
            (stmts(r#"{"Sid": 5, "Effect": "Allow", "Action": "*", "Resource": "*"}"#), err("Statement[0].Sid: expected a string")),
            (stmts(r#"{"Action": "*", "Resource": "*"}"#), err(r#"Statement[0].Effect: missing (expected "Allow" or "Deny")"#)),
            (stmts(&format!(r#"{ok}, {{"Effect": "allow", "Action": "*", "Resource": "*"}}"#)), err(r#"Statement[1].Effect: expected "Allow" or "Deny""#)),
            (stmts(&format!(r#"{ok}, {{"Sid": "Read", "Effect": true, "Action": "*", "Resource": "*"}}"#)), err(r#"Statement[1] (Sid "Read").Effect: expected "Allow" or "Deny""#)),
            (r#"{"Version": "2012-10-17", "Statement": {"Effect": "Maybe", "Action": "*", "Resource": "*"}}"#.to_owned(), err(r#"Statement.Effect: expected "Allow" or "Deny""#)),
            (stmts(r#"{"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "*"}, {"Sid": "A", "Effect": "Deny", "Action": "*", "Resource": "*"}"#), err(r#"Statement[1] (Sid "A").Sid: duplicate Sid (also Statement[0]); Sids must be unique"#)),
            (with(r#", "Conditions": {}"#), err("Statement[0].Conditions: unknown element (did you mean Condition?)")),
            (with(r#", "Foo": 1"#), err("Statement[0].Foo: unknown element")),
            (stmts(ok), Ok(())),
        ],
        |text| parse(Identity, text),
    );
}

#[test]
fn action() {
    let a = |action: &str| {
        stmts(&format!(
            r#"{{"Effect": "Allow", "Action": {action}, "Resource": "*"}}"#
        ))
    };
    check(
        [
            (
                stmts(r#"{"Effect": "Allow", "Resource": "*"}"#),
                err("Statement[0]: Action or NotAction is required"),
            ),
            (
                stmts(
                    r#"{"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}"#,
                ),
                err("Statement[0]: has both Action and NotAction; exactly one is allowed"),
            ),
            (
                a("5"),
                err("Statement[0].Action: expected a string or an array of strings"),
            ),
            (
                a("[]"),
                err("Statement[0].Action: must not be an empty array"),
            ),
            (
                a(r#"["s3:GetObject", 5]"#),
                err("Statement[0].Action[1]: expected a string"),
            ),
            (
                a(r#""s3GetObject""#),
                err(
                    r#"Statement[0].Action: "s3GetObject" is not of the form "service:action" (or "*")"#,
                ),
            ),
            (
                a(r#"["s3:GetObject", "s*:Get"]"#),
                err(
                    r#"Statement[0].Action[1]: "s*:Get": the service prefix must be letters, digits and '-' (no wildcards)"#,
                ),
            ),
            (
                a(r#""s3:""#),
                err(
                    r#"Statement[0].Action: "s3:": the action name must be letters and digits, with '*' and '?' as wildcards"#,
                ),
            ),
            (
                a(r#""s3:Get Object""#),
                err(
                    r#"Statement[0].Action: "s3:Get Object": the action name must be letters and digits, with '*' and '?' as wildcards"#,
                ),
            ),
            (
                a(r#"["*", "s3:*", "s3:Get*", "S3:?etObject", "sts:AssumeRole"]"#),
                Ok(()),
            ),
            (
                stmts(r#"{"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"}"#),
                Ok(()),
            ),
        ],
        |text| parse(Identity, text),
    );
}

#[test]
fn resource() {
    let r = |resource: &str| {
        stmts(&format!(
            r#"{{"Effect": "Allow", "Action": "s3:*", "Resource": {resource}}}"#
        ))
    };
    check(
        [
            (
                stmts(r#"{"Effect": "Allow", "Action": "s3:*"}"#),
                err(
                    "Statement[0]: Resource or NotResource is required in an identity or session policy",
                ),
            ),
            (
                stmts(
                    r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "NotResource": "*"}"#,
                ),
                err("Statement[0]: has both Resource and NotResource; exactly one is allowed"),
            ),
            (
                r("{}"),
                err("Statement[0].Resource: expected a string or an array of strings"),
            ),
            (
                r(r#""bucket""#),
                err(
                    r#"Statement[0].Resource: "bucket" is neither "*" nor an ARN (arn:partition:service:region:account:resource)"#,
                ),
            ),
            (
                r(r#"["*", "arn:aws:s*:::b"]"#),
                err(
                    r#"Statement[0].Resource[1]: "arn:aws:s*:::b": the service segment of an ARN cannot hold a wildcard"#,
                ),
            ),
            (
                r(r#""arn:aws:s3""#),
                err(
                    r#"Statement[0].Resource: "arn:aws:s3" is not an ARN: it needs six colon-separated parts (arn:partition:service:region:account:resource), or at least four ending in "*""#,
                ),
            ),
            (
                r(r#""arn:aws:*""#),
                err(
                    r#"Statement[0].Resource: "arn:aws:*": the service segment of an ARN cannot hold a wildcard"#,
                ),
            ),
            (
                r(
                    r#"["*", "arn:aws:s3:::b", "arn:aws:s3:::b/*", "arn:aws:s3:*", "arn:*:s3:::b*"]"#,
                ),
                Ok(()),
            ),
        ],
        |text| parse(Identity, text),
    );
}

#[test]
fn principal_by_kind() {
    let base = r#""Effect": "Allow", "Action": "sts:AssumeRole""#;
    let user = r#""Principal": {"AWS": "arn:aws:iam::111122223333:user/btp-bridge"}"#;
    check(
        [
            (
                (
                    Identity,
                    stmts(&format!(r#"{{{base}, {user}, "Resource": "*"}}"#)),
                ),
                err("Statement[0].Principal: not allowed in an identity or session policy"),
            ),
            (
                (
                    Identity,
                    stmts(&format!(
                        r#"{{{base}, "NotPrincipal": "*", "Resource": "*"}}"#
                    )),
                ),
                err("Statement[0].NotPrincipal: not allowed in an identity or session policy"),
            ),
            (
                (Resource, stmts(&format!(r#"{{{base}, "Resource": "*"}}"#))),
                err(
                    "Statement[0]: Principal or NotPrincipal is required in a resource-based policy",
                ),
            ),
            (
                (
                    Resource,
                    stmts(&format!(
                        r#"{{{base}, {user}, "NotPrincipal": "*", "Resource": "*"}}"#
                    )),
                ),
                err("Statement[0]: has both Principal and NotPrincipal; exactly one is allowed"),
            ),
            (
                (Resource, stmts(&format!(r#"{{{base}, {user}}}"#))),
                err("Statement[0]: Resource or NotResource is required in a resource-based policy"),
            ),
            (
                (
                    Resource,
                    stmts(&format!(
                        r#"{{{base}, "NotPrincipal": {{"AWS": "111122223333"}}, "Resource": "*"}}"#
                    )),
                ),
                Ok(()),
            ),
            (
                (Trust, stmts(&format!(r#"{{{base}}}"#))),
                err("Statement[0]: Principal is required in a trust policy"),
            ),
            (
                (Trust, stmts(&format!(r#"{{{base}, "NotPrincipal": "*"}}"#))),
                err(
                    "Statement[0].NotPrincipal: not allowed in a trust policy; name the principals that may assume the role",
                ),
            ),
            (
                (
                    Trust,
                    stmts(&format!(r#"{{{base}, {user}, "Resource": "*"}}"#)),
                ),
                err(
                    "Statement[0].Resource: not allowed in a trust policy (the resource is the role itself)",
                ),
            ),
            (
                (
                    Trust,
                    stmts(&format!(r#"{{{base}, {user}, "NotResource": "*"}}"#)),
                ),
                err(
                    "Statement[0].NotResource: not allowed in a trust policy (the resource is the role itself)",
                ),
            ),
            ((Trust, stmts(&format!(r#"{{{base}, {user}}}"#))), Ok(())),
        ],
        |(kind, text)| parse(*kind, text),
    );
}

#[test]
fn principal_values() {
    let p = |principal: &str| {
        stmts(&format!(
            r#"{{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {principal}}}"#
        ))
    };
    check(
        [
            (
                p(r#""everyone""#),
                err(
                    r#"Statement[0].Principal: expected "*" or an object such as {"AWS": "arn:aws:iam::123456789012:root"}"#,
                ),
            ),
            (
                p("{}"),
                err(
                    r#"Statement[0].Principal: must name at least one principal type ("AWS", "Service", …)"#,
                ),
            ),
            (
                p(r#"{"User": "x"}"#),
                err(
                    r#"Statement[0].Principal: unknown principal type "User" (expected "AWS", "Service", "Federated" or "CanonicalUser")"#,
                ),
            ),
            (
                p(r#"{"AWS": "bob"}"#),
                err(
                    r#"Statement[0].Principal.AWS: "bob" is not "*", a 12-digit account id or the ARN of an account root, user or role"#,
                ),
            ),
            (
                p(r#"{"AWS": "12345"}"#),
                err(
                    r#"Statement[0].Principal.AWS: "12345" is not "*", a 12-digit account id or the ARN of an account root, user or role"#,
                ),
            ),
            (
                p(r#"{"AWS": "arn:aws:s3:::bucket"}"#),
                err(
                    r#"Statement[0].Principal.AWS: "arn:aws:s3:::bucket" is not "*", a 12-digit account id or the ARN of an account root, user or role"#,
                ),
            ),
            (
                p(r#"{"AWS": ["111122223333", "arn:aws:iam::111122223333:user/*"]}"#),
                err(
                    r#"Statement[0].Principal.AWS[1]: "arn:aws:iam::111122223333:user/*": a principal ARN cannot hold wildcards (use "*" alone, or name the account)"#,
                ),
            ),
            (
                p(r#"{"AWS": ""}"#),
                err("Statement[0].Principal.AWS: must not be empty"),
            ),
            (
                p(r#"{"AWS": []}"#),
                err("Statement[0].Principal.AWS: must not be an empty array"),
            ),
            (
                p(r#"{"Service": 5}"#),
                err("Statement[0].Principal.Service: expected a string or an array of strings"),
            ),
            (p(r#""*""#), Ok(())),
            (p(r#"{"AWS": "*"}"#), Ok(())),
            (
                p(
                    r#"{"AWS": ["111122223333", "arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/a/b", "arn:aws:sts::111122223333:assumed-role/b/s"], "Service": ["scheduler.amazonaws.com"], "Federated": "cognito-identity.amazonaws.com"}"#,
                ),
                Ok(()),
            ),
        ],
        |text| parse(Trust, text),
    );
}

#[test]
fn condition() {
    check(
        [
            (
                cond(r#""x""#),
                err(
                    r#"Statement[0].Condition: expected an object such as {"StringEquals": {"sts:ExternalId": "…"}}"#,
                ),
            ),
            (
                cond(r#"{"StringEqualz": {"k": "v"}}"#),
                err(r#"Statement[0].Condition: unknown condition operator "StringEqualz""#),
            ),
            (
                cond(r#"{"ForSomeValues:StringEquals": {"k": "v"}}"#),
                err(
                    r#"Statement[0].Condition: unknown condition operator "ForSomeValues:StringEquals""#,
                ),
            ),
            (
                cond(r#"{"stringequals": {"k": "v"}}"#),
                err(r#"Statement[0].Condition: unknown condition operator "stringequals""#),
            ),
            (
                cond(r#"{"StringEqualsIfExistsIfExists": {"k": "v"}}"#),
                err(
                    r#"Statement[0].Condition: unknown condition operator "StringEqualsIfExistsIfExists""#,
                ),
            ),
            (
                cond(r#"{"StringEquals": "v"}"#),
                err(
                    "Statement[0].Condition.StringEquals: expected an object of condition keys and values",
                ),
            ),
            (
                cond(r#"{"StringEquals": {}}"#),
                err("Statement[0].Condition.StringEquals: must name at least one condition key"),
            ),
            (
                cond(r#"{"StringEquals": {"": "v"}}"#),
                err("Statement[0].Condition.StringEquals: a condition key is empty"),
            ),
            (
                cond(r#"{"StringEquals": {"k": null}}"#),
                err(
                    "Statement[0].Condition.StringEquals.k: expected a string, a number, a boolean or an array of them",
                ),
            ),
            (
                cond(r#"{"StringEquals": {"k": []}}"#),
                err("Statement[0].Condition.StringEquals.k: must not be an empty array"),
            ),
            (
                cond(r#"{"StringEquals": {"k": ["v", {}]}}"#),
                err(
                    "Statement[0].Condition.StringEquals.k[1]: expected a string, a number or a boolean",
                ),
            ),
            (
                cond(r#"{"NumericLessThan": {"s3:max-keys": "ten"}}"#),
                err(r#"Statement[0].Condition.NumericLessThan.s3:max-keys: "ten" is not a number"#),
            ),
            (
                cond(r#"{"NumericEquals": {"n": "NaN"}}"#),
                err(r#"Statement[0].Condition.NumericEquals.n: "NaN" is not a number"#),
            ),
            (
                cond(r#"{"DateLessThan": {"aws:CurrentTime": ["2025-01-01", "tomorrow"]}}"#),
                err(
                    r#"Statement[0].Condition.DateLessThan.aws:CurrentTime[1]: "tomorrow" is not a date (ISO-8601 such as 2025-01-31T12:00:00Z, or epoch seconds)"#,
                ),
            ),
            (
                cond(r#"{"Bool": {"aws:SecureTransport": "yes"}}"#),
                err(
                    r#"Statement[0].Condition.Bool.aws:SecureTransport: "yes" is not "true" or "false""#,
                ),
            ),
            (
                cond(r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}"#),
                err(
                    r#"Statement[0].Condition.IpAddress.aws:SourceIp: "10.0.0.0/33" is not an IP address or CIDR block (203.0.113.0/24, 2001:db8::/32)"#,
                ),
            ),
            (
                cond(r#"{"Null": {"k": "maybe"}}"#),
                err(r#"Statement[0].Condition.Null.k: "maybe" is not "true" or "false""#),
            ),
            (
                cond(r#"{"NullIfExists": {"k": "true"}}"#),
                err(
                    "Statement[0].Condition.NullIfExists: Null cannot take ForAnyValue:, ForAllValues: or IfExists",
                ),
            ),
            (
                cond(r#"{"ForAnyValue:Null": {"k": "true"}}"#),
                err(
                    "Statement[0].Condition.ForAnyValue:Null: Null cannot take ForAnyValue:, ForAllValues: or IfExists",
                ),
            ),
            (
                cond(
                    r#"{"ForAnyValue:StringLikeIfExists": {"k": ["a*", 1, true]}, "NumericLessThanEquals": {"n": 5}, "Bool": {"b": false}, "DateGreaterThan": {"d": 1735689600}, "ArnLike": {"aws:SourceArn": "arn:aws:scheduler:*:111122223333:schedule/*"}, "NotIpAddress": {"aws:SourceIp": ["2001:db8::/32", "203.0.113.7"]}, "BinaryEquals": {"b64": "QmluYXJ5"}, "Null": {"k2": true}}"#,
                ),
                Ok(()),
            ),
        ],
        |text| parse(Identity, text),
    );
}

#[test]
fn errors_are_typed() {
    let e = PolicyDocument::from_json(&stmts(r#"{"Effect": "Allow", "Action": "*"}"#)).unwrap_err();
    assert_eq!(
        e,
        PolicyError::Element {
            path: "Statement[0]".to_owned(),
            problem: "Resource or NotResource is required in an identity or session policy"
                .to_owned(),
        }
    );
    let e = PolicyDocument::from_json("{").unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::Json {
                line: 1,
                column: 1,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn long_values_are_cut_in_messages() {
    let long = "x".repeat(500);
    let e = PolicyDocument::from_json(&stmts(&format!(
        r#"{{"Effect": "Allow", "Action": "{long}", "Resource": "*"}}"#
    )))
    .unwrap_err()
    .to_string();
    assert!(e.len() < 300, "{e}");
    assert!(e.contains('…'), "{e}");
}

#[test]
fn accessors() {
    let d = PolicyDocument::from_json_as(
        r#"{"Version": "2008-10-17", "Id": "P1", "Statement": {"Sid": "S", "Effect": "Deny", "Principal": "*", "Action": "*"}}"#,
        Trust,
    )
    .unwrap();
    assert_eq!(d.kind(), Trust);
    assert_eq!(d.version(), Some(Version::V2008_10_17));
    assert_eq!(d.id(), Some("P1"));
    assert_eq!(d.statements().len(), 1);
    assert_eq!(d.statements()[0].sid(), Some("S"));
    assert_eq!(d.statements()[0].effect(), iam::Effect::Deny);
}
