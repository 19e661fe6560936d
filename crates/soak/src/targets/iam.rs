//! `iam`: [`iam::PolicyDocument::from_json_as`] as every kind (identity, resource, trust),
//! [`devstack::aws_identity::Policy::session`] (what the local STS does with `AssumeRole`'s
//! `Policy`), [`iam::template::render`] and [`iam::template::placeholders`] (the deploy files),
//! [`iam::s3::checks`]; whatever parses is evaluated against generated requests with
//! [`iam::evaluate`], [`iam::trust_allows`] and [`iam::assume_role`].
//!
//! Seeds: the rendered deploy policies, a rich document with every element and condition
//! operator kind (the idea of `crates/iam/tests/it/fuzz.rs`), and session policies as the app
//! sends them. The JSON mutator edits their trees with IAM's element names, operators,
//! wildcards, policy variables, CIDRs and dates; some texts get byte-level edits too.
//!
//! Property: parse → `to_json` → parse gives an equal document, as `PolicyDocument::to_json`
//! promises; evaluation always gives a decision.

use devstack::aws_identity::Policy;
use fastrand::Rng;
use iam::PolicyKind::{Identity, Resource, Trust};
use iam::{Evaluation, PolicyDocument, RequestContext, assume_role, evaluate, trust_allows};
use serde_json::{Value, json};

use super::keep_in;
use crate::harness::{Target, Verdict};
use crate::mutate::{self, Json, chance, pick};

const ACCOUNT: &str = "123456789012";

const RICH: &str = r#"{
  "Version": "2012-10-17", "Id": "x",
  "Statement": [
    {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:role/r"]},
     "Action": ["s3:Get*", "sts:AssumeRole"], "Resource": ["arn:aws:s3:::b/${aws:username}/*", "arn:aws:s3:*"],
     "Condition": {"StringLike": {"s3:prefix": ["a/*", "${aws:username}"]}, "ForAnyValue:NumericLessThan": {"n": [1, "2"]},
                   "DateLessThanIfExists": {"t": "2025-01-01"}, "IpAddress": {"ip": "10.0.0.0/8"}, "Null": {"z": true},
                   "ArnNotLike": {"aws:SourceArn": "arn:aws:*:*:1:*"}, "Bool": {"b": "true"}}},
    {"Effect": "Deny", "NotPrincipal": "*", "NotAction": "s3:*", "NotResource": "*"}
  ]
}"#;

const SESSION: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::docs","arn:aws:s3:::docs/${aws:username}/*"],"Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c"},"NumericLessThanEquals":{"s3:max-keys":"100"}}}]}"#;

const KEYS: &[&str] = &[
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateLessThan",
    "DateGreaterThan",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotLike",
    "Null",
    "StringLikeIfExists",
    "ForAnyValue:StringLike",
    "ForAllValues:StringEquals",
    "ForAllValues:NumericLessThan",
    "StringEqualsX",
    "sts:ExternalId",
    "aws:SourceVpce",
    "aws:PrincipalArn",
    "aws:CurrentTime",
    "aws:SourceIp",
    "aws:SecureTransport",
    "aws:username",
    "s3:prefix",
    "s3:max-keys",
];

const STRINGS: &[&str] = &[
    "2012-10-17",
    "2008-10-17",
    "2012-10-18",
    "Allow",
    "Deny",
    "allow",
    "*",
    "?",
    "s3:*",
    "s3:Get*",
    "s3:GetObject",
    "S3:getobject",
    "sts:AssumeRole",
    "s3:ListAllMyBuckets",
    "iam:*",
    "s3",
    ":",
    "arn:aws:s3:::docs",
    "arn:aws:s3:::docs/*",
    "arn:aws:s3:::*/*",
    "arn:aws:s3:::${aws:username}",
    "arn:aws:iam::123456789012:root",
    "arn:aws:iam::123456789012:user/btp-bridge",
    "arn:aws:sts::123456789012:assumed-role/btp-bridge-s3/app",
    "arn:aws:iam::*:role/*",
    "arn:",
    "arn:aws",
    "123456789012",
    "12345678901",
    "scheduler.amazonaws.com",
    "${aws:username}",
    "${*}",
    "${?}",
    "${$}",
    "${",
    "${aws:username",
    "$",
    "10.0.0.0/8",
    "10.0.0.1",
    "::1/128",
    "2001:db8::/129",
    "300.0.0.0/8",
    "2025-01-01T00:00:00Z",
    "2025-01-01",
    "1735689600",
    "true",
    "false",
    "TRUE",
    "1e400",
    "-0",
    "vpce-1a2b3c",
];

/// A list element: one string, or an array of one to three.
fn one_or_more(rng: &mut Rng, options: &[&str]) -> Value {
    let n = 1 + rng.usize(..3);
    if n == 1 && rng.bool() {
        json!(*pick(rng, options))
    } else {
        Value::Array((0..n).map(|_| json!(*pick(rng, options))).collect())
    }
}

/// A valid statement of any kind, from IAM's grammar (the IAM JSON policy element reference,
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html>).
fn grammar_statement(rng: &mut Rng, principal: bool, resource: bool) -> Value {
    let mut st = serde_json::Map::new();
    if rng.bool() {
        st.insert("Sid".into(), json!(format!("S{}", rng.u8(..10))));
    }
    st.insert(
        "Effect".into(),
        json!(if chance(rng, 75) { "Allow" } else { "Deny" }),
    );
    let actions = [
        "s3:GetObject",
        "s3:Get*",
        "s3:*",
        "*",
        "sts:AssumeRole",
        "s3:ListBucket",
        "s3:PutObject",
        "s3:?etObject",
    ];
    let action = if chance(rng, 85) {
        "Action"
    } else {
        "NotAction"
    };
    st.insert(action.into(), one_or_more(rng, &actions));
    if resource {
        let resources = [
            "*",
            "arn:aws:s3:::docs",
            "arn:aws:s3:::docs/*",
            "arn:aws:s3:::docs/${aws:username}/*",
            "arn:aws:iam::123456789012:role/*",
            "arn:aws:s3:::*",
        ];
        let resource = if chance(rng, 85) {
            "Resource"
        } else {
            "NotResource"
        };
        st.insert(resource.into(), one_or_more(rng, &resources));
    }
    if principal {
        let principal = match rng.u8(..4) {
            0 => json!("*"),
            1 => {
                json!({"Service": one_or_more(rng, &["scheduler.amazonaws.com", "lambda.amazonaws.com"])})
            }
            _ => {
                json!({"AWS": one_or_more(rng, &["123456789012", "arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:user/btp-bridge", "*", "111122223333"])})
            }
        };
        let name = if chance(rng, 85) {
            "Principal"
        } else {
            "NotPrincipal"
        };
        st.insert(name.into(), principal);
    }
    if chance(rng, 50) {
        let mut condition = serde_json::Map::new();
        for _ in 0..1 + rng.usize(..2) {
            let (op, values): (&str, &[&str]) = *pick(
                rng,
                &[
                    ("StringEquals", &["ext-id", "vpce-1a2b3c", "btp-bridge"][..]),
                    ("StringLike", &["a/*", "${aws:username}", "*", "?"]),
                    ("StringNotEquals", &["x"]),
                    ("StringEqualsIgnoreCase", &["BTP-BRIDGE"]),
                    ("ArnLike", &["arn:aws:iam::*:user/*", "arn:aws:*"]),
                    ("NumericLessThan", &["100", "1.5", "-3"]),
                    ("DateGreaterThan", &["2025-01-01T00:00:00Z", "1735689600"]),
                    ("Bool", &["true", "false"]),
                    ("IpAddress", &["10.0.0.0/8", "::1/128", "192.168.1.1"]),
                    ("NotIpAddress", &["10.0.0.0/8"]),
                    ("Null", &["true", "false"]),
                ],
            );
            let prefix = *pick(rng, &["", "", "", "ForAnyValue:", "ForAllValues:"]);
            let suffix = if chance(rng, 20) { "IfExists" } else { "" };
            let key = *pick(
                rng,
                &[
                    "sts:ExternalId",
                    "aws:SourceVpce",
                    "aws:username",
                    "s3:prefix",
                    "aws:CurrentTime",
                    "aws:SourceIp",
                    "aws:SecureTransport",
                    "aws:PrincipalArn",
                    "n",
                ],
            );
            condition.insert(
                format!("{prefix}{op}{suffix}"),
                json!({key: one_or_more(rng, values)}),
            );
        }
        st.insert("Condition".into(), Value::Object(condition));
    }
    Value::Object(st)
}

/// A valid document of one kind (identity: no principals; resource: principals and
/// resources; trust: principals only): one statement as an object, or a list of them.
fn grammar_document(rng: &mut Rng) -> Value {
    let (principal, resource) = *pick(rng, &[(false, true), (true, true), (true, false)]);
    let statement = if chance(rng, 20) {
        grammar_statement(rng, principal, resource)
    } else {
        let n = 1 + rng.usize(..3);
        Value::Array(
            (0..n)
                .map(|_| grammar_statement(rng, principal, resource))
                .collect(),
        )
    };
    json!({"Version": *pick(rng, &["2012-10-17", "2012-10-17", "2008-10-17"]), "Statement": statement})
}

/// One execution's input: a policy text and the requests to evaluate it against.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    text: String,
    requests: Vec<RequestContext>,
}

/// The `iam` target.
pub(crate) struct Iam {
    seeds: Vec<Value>,
    texts: Vec<String>,
    pool: Vec<String>,
}

impl Iam {
    pub(crate) fn new() -> Self {
        let values = [
            ("AccountId", ACCOUNT),
            ("BucketName", "docs"),
            ("ExternalId", "ext-id"),
        ];
        let texts: Vec<String> = [
            iam::deploy::ROLE_TRUST_POLICY_JSON,
            iam::deploy::ROLE_PERMISSION_POLICY_JSON,
            iam::deploy::USER_JSON,
        ]
        .iter()
        .filter_map(|t| iam::template::render(t, &values).ok())
        .chain([RICH.to_owned(), SESSION.to_owned()])
        .collect();
        let seeds = texts
            .iter()
            .filter_map(|t| serde_json::from_str::<Value>(t).ok())
            .map(|v| v.get("PolicyDocument").cloned().unwrap_or(v))
            .collect();
        Self {
            seeds,
            texts,
            pool: Vec::new(),
        }
    }

    fn request(rng: &mut Rng) -> RequestContext {
        let s = |rng: &mut Rng, options: &[&str]| -> String {
            let base = *pick(rng, options);
            if chance(rng, 85) {
                base.to_owned()
            } else {
                mutate::text(rng, base, STRINGS, 256)
            }
        };
        let arn = s(
            rng,
            &[
                "arn:aws:iam::123456789012:user/btp-bridge",
                "arn:aws:sts::123456789012:assumed-role/btp-bridge-s3/app",
                "arn:aws:iam::111122223333:role/r",
                "scheduler.amazonaws.com",
                "",
                "*",
            ],
        );
        let account = s(rng, &[ACCOUNT, "111122223333", "", "*"]);
        let action = s(
            rng,
            &[
                "s3:GetObject",
                "s3:PutObject",
                "sts:AssumeRole",
                "s3:ListBucket",
                "S3:GETOBJECT",
                "",
                "s3:",
            ],
        );
        let resource = s(
            rng,
            &[
                "arn:aws:s3:::docs/btp-bridge/a.pdf",
                "arn:aws:s3:::docs",
                "arn:aws:iam::123456789012:role/btp-bridge-s3",
                "*",
                "arn:aws:s3:::",
                "arn:::::",
            ],
        );
        let mut ctx = RequestContext::new(arn, account, action, resource);
        for _ in 0..rng.usize(..4) {
            let key = *pick(
                rng,
                &[
                    "sts:ExternalId",
                    "aws:SourceVpce",
                    "aws:username",
                    "s3:prefix",
                    "aws:CurrentTime",
                    "aws:SourceIp",
                    "aws:SecureTransport",
                    "n",
                    "t",
                    "ip",
                    "b",
                    "AWS:USERNAME",
                ],
            );
            let value = s(
                rng,
                &[
                    "ext-id",
                    "vpce-1a2b3c",
                    "btp-bridge",
                    "a/b",
                    "2025-01-01T00:00:00Z",
                    "10.1.2.3",
                    "::1",
                    "true",
                    "1",
                    "",
                    "é😀",
                ],
            );
            ctx = ctx.with_key(key, value);
        }
        ctx
    }
}

impl Target for Iam {
    type Input = Input;
    const NAME: &'static str = "iam";

    fn generate(&mut self, rng: &mut Rng) -> Input {
        let json = Json {
            keys: KEYS,
            strings: STRINGS,
        };
        let text = match rng.u8(..100) {
            0..=49 => {
                let mut doc = pick(rng, &self.seeds).clone();
                json.mutate(rng, &mut doc, false);
                json.write(
                    rng,
                    &doc,
                    &["\"Statement\":", "{", "[", "\"*\"", ","],
                    65_536,
                )
            }
            50..=64 => {
                let base = if !self.pool.is_empty() && chance(rng, 50) {
                    pick(rng, &self.pool)
                } else {
                    pick(rng, &self.texts)
                };
                mutate::text(rng, base, &["${", "}", "*", "\"", ",", ":", "[]"], 65_536)
            }
            65..=89 => {
                let mut doc = grammar_document(rng);
                if rng.bool() {
                    json.mutate(rng, &mut doc, false);
                }
                doc.to_string()
            }
            90..=94 => {
                let depth = 100 + rng.usize(..60);
                mutate::deep_json(rng, depth)
            }
            _ => mutate::into_string(mutate::random_bytes(rng, 200)),
        };
        let requests = (0..1 + rng.usize(..3))
            .map(|_| Self::request(rng))
            .collect();
        Input { text, requests }
    }

    fn execute(&mut self, input: &Input) -> Verdict {
        let _ = iam::template::placeholders(&input.text);
        let _ = iam::template::render(
            &input.text,
            &[("AccountId", ACCOUNT), ("BucketName", "b\u{0}")],
        );
        let _ = Policy::session(&input.text).map(|p| {
            (
                p.name().len(),
                p.json().len(),
                p.document().statements().len(),
            )
        });
        for c in &input.requests {
            let _ = iam::s3::checks(
                &c.action,
                Some(&c.resource),
                Some(&c.principal_arn),
                Some((&c.principal_account, "")),
            );
            let _ = (c.access_denied_message(), c.for_action("s3:GetObject", "*"));
        }
        let mut accepted = false;
        for kind in [Identity, Resource, Trust] {
            let doc = match PolicyDocument::from_json_as(&input.text, kind) {
                Ok(doc) => doc,
                Err(e) => {
                    let _ = e.to_string();
                    continue;
                }
            };
            accepted = true;
            let written = doc.to_json();
            match PolicyDocument::from_json_as(&written, kind) {
                Ok(again) if again == doc => {}
                Ok(_) => {
                    return Verdict::Violation(format!(
                        "{kind:?}: to_json reads back different: {written}"
                    ));
                }
                Err(e) => {
                    return Verdict::Violation(format!(
                        "{kind:?}: to_json does not read back ({e}): {written}"
                    ));
                }
            }
            let _ = (doc.to_string(), doc.kind(), doc.version(), doc.id());
            for s in doc.statements() {
                let _ = (s.sid(), s.effect());
            }
            for c in &input.requests {
                let policies = Evaluation {
                    identity: &[&doc],
                    resource: Some(&doc),
                    session: Some(&doc),
                };
                let decision = evaluate(&policies, c);
                let _ = (decision.is_allowed(), decision.explain());
                let _ = trust_allows(&doc, c);
                let _ = assume_role(&doc, &[&doc], c);
            }
        }
        if accepted {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        }
    }

    fn keep(&mut self, input: Input, rng: &mut Rng) {
        keep_in(&mut self.pool, input.text, rng);
    }

    fn encode(input: &Input) -> Vec<u8> {
        let requests: Vec<Value> = input
            .requests
            .iter()
            .map(|c| {
                json!({
                    "principal_arn": c.principal_arn,
                    "principal_account": c.principal_account,
                    "action": c.action,
                    "resource": c.resource,
                    "context_keys": c.context_keys,
                })
            })
            .collect();
        json!({"text": input.text, "requests": requests})
            .to_string()
            .into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Input> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        let requests = v["requests"]
            .as_array()?
            .iter()
            .map(|r| {
                let mut c = RequestContext::new(
                    r["principal_arn"].as_str()?,
                    r["principal_account"].as_str()?,
                    r["action"].as_str()?,
                    r["resource"].as_str()?,
                );
                for (k, values) in r["context_keys"].as_object()? {
                    for value in values.as_array()? {
                        c = c.with_key(k.as_str(), value.as_str()?);
                    }
                }
                Some(c)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Input {
            text: v["text"].as_str()?.to_owned(),
            requests,
        })
    }
}
