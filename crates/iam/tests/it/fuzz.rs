//! Malformed documents and odd requests never panic: truncations, byte mutations, and every
//! node of a rich document replaced by values of every JSON type, all parsed as every kind,
//! and whatever parses evaluated against odd requests.

use iam::PolicyKind::{Identity, Resource, Trust};
use iam::{Evaluation, PolicyDocument, RequestContext, assume_role, evaluate, trust_allows};
use serde_json::{Value, json};

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

/// Odd requests to evaluate whatever parses against.
fn requests() -> Vec<RequestContext> {
    let weird = [
        "",
        "*",
        "arn:",
        "arn:aws:s3:::",
        "arn:aws:s3:::b/",
        "arn:aws:s3:::b/alice/x",
        "arn:::::::::::",
        "${aws:username}",
        "é€😀",
        ":::",
        "s3:",
        "sts:AssumeRole",
    ];
    let mut out = Vec::new();
    for (i, w) in weird.iter().enumerate() {
        let long = w.repeat(200);
        let mut c = RequestContext::new(
            *w,
            weird[(i + 3) % weird.len()],
            *w,
            weird[(i + 5) % weird.len()],
        );
        c = c
            .with_key("aws:username", *w)
            .with_key("s3:prefix", long.as_str())
            .with_key("n", *w)
            .with_key("t", *w)
            .with_key("ip", *w)
            .with_key("b", *w)
            .with_key("AWS:SOURCEARN", *w);
        out.push(c);
        out.push(RequestContext::new(
            "arn:aws:iam::111122223333:user/u",
            "111122223333",
            "s3:GetObject",
            *w,
        ));
        out.push(RequestContext::new(
            long.as_str(),
            "",
            "s3:GetObject",
            long.as_str(),
        ));
    }
    out
}

/// Parses `text` as every kind and evaluates whatever parses; returns how many parsed.
fn exercise(text: &str, requests: &[RequestContext]) -> usize {
    let mut parsed = 0;
    for kind in [Identity, Resource, Trust] {
        let Ok(doc) = PolicyDocument::from_json_as(text, kind) else {
            continue;
        };
        parsed += 1;
        let _ = doc.to_json();
        for c in requests {
            let _ = evaluate(
                &Evaluation {
                    identity: &[&doc],
                    resource: Some(&doc),
                    session: Some(&doc),
                },
                c,
            )
            .explain();
            let _ = trust_allows(&doc, c);
            let _ = assume_role(&doc, &[&doc], c);
        }
    }
    parsed
}

#[test]
fn the_rich_document_parses() {
    let requests = requests();
    assert_eq!(exercise(RICH, &requests), 1, "as a resource policy only");
}

#[test]
fn truncations() {
    let requests = requests();
    for (i, _) in RICH.char_indices() {
        exercise(&RICH[..i], &requests[..4]);
    }
}

#[test]
fn byte_mutations() {
    // A small deterministic generator, so failures reproduce.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: Vec<char> = "{}[]\":,*?$ \\/0123456789aAsS:-é😀\u{0}tfn.e+"
        .chars()
        .collect();
    let base: Vec<char> = RICH.chars().collect();
    let requests = requests();
    let mut parsed = 0;
    for _ in 0..3000 {
        let mut doc = base.clone();
        for _ in 0..(1 + next() % 4) {
            let at = (next() % doc.len() as u64) as usize;
            let c = alphabet[(next() % alphabet.len() as u64) as usize];
            match next() % 3 {
                0 => doc[at] = c,
                1 => doc.insert(at, c),
                _ => {
                    doc.remove(at);
                }
            }
        }
        let text: String = doc.into_iter().collect();
        parsed += exercise(&text, &requests[..3]);
    }
    // Some mutations leave a valid document, so evaluation ran on those too.
    assert!(parsed > 0);
}

/// Every path to a node of `v`, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                pointers(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn structural_replacements() {
    let rich: Value = serde_json::from_str(RICH).unwrap();
    let mut paths = Vec::new();
    pointers(&rich, String::new(), &mut paths);
    let replacements = [
        json!(null),
        json!(true),
        json!(0),
        json!(-1.5),
        json!(1e300),
        json!(""),
        json!("*"),
        json!("arn:aws:s3:::*"),
        json!("${"),
        json!([]),
        json!({}),
        json!(["*"]),
        json!([[]]),
        json!({"AWS": "*"}),
        json!({"StringEquals": {"k": "v"}}),
    ];
    let requests = requests();
    for path in &paths {
        for r in &replacements {
            let mut doc = rich.clone();
            if path.is_empty() {
                doc = r.clone();
            } else if let Some(slot) = doc.pointer_mut(path) {
                *slot = r.clone();
            }
            exercise(&doc.to_string(), &requests[..3]);
        }
    }
}

#[test]
fn deep_nesting_and_huge_inputs() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(PolicyDocument::from_json(&deep).is_err());
    let deep_object = format!(
        r#"{{"Version": "2012-10-17", "Statement": {}{}}}"#,
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    assert!(PolicyDocument::from_json(&deep_object).is_err());
    // A long pattern against a long, almost-matching resource stays quick.
    let pattern = format!("arn:aws:s3:::b/{}x", "*a".repeat(200));
    let doc = PolicyDocument::from_json(
        &json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": pattern}}).to_string(),
    )
    .unwrap();
    let resource = format!("arn:aws:s3:::b/{}", "a".repeat(5_000));
    let c = RequestContext::new("u", "", "s3:GetObject", resource);
    let started = std::time::Instant::now();
    assert!(
        !evaluate(
            &Evaluation {
                identity: &[&doc],
                ..Evaluation::default()
            },
            &c
        )
        .is_allowed()
    );
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}
