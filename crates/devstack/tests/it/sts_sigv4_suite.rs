//! The SigV4 verifier against the AWS signing test suite (`aws-signing-test-suite/v4`, shipped
//! inside the `aws-sigv4` crate this crate dev-depends on): every signed request of the suite,
//! in its header and its presigned form, must verify, and must fail once its signature is
//! changed.

use std::path::{Path, PathBuf};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use devstack::sigv4::{self, PathRule, Service, SigV4Error, SigningKey};

/// The suite's cases that cannot reach a server as written, with the reason.
const NOT_ON_THE_WIRE: &[(&str, &str)] = &[
    // The suite writes these paths raw (a space, UTF-8) and encodes them once for the canonical
    // request. On the wire they arrive percent-encoded, and every non-S3 service encodes the
    // received path once more, as the SDKs do when they sign: `%20` becomes `%2520`.
    ("get-space-normalized", "raw space in the path"),
    ("get-utf8", "raw UTF-8 in the path"),
];

#[derive(Debug)]
struct Key {
    secret: String,
    token: Option<String>,
}

impl SigningKey for Key {
    fn secret_access_key(&self) -> &str {
        &self.secret
    }
    fn session_token(&self) -> Option<&str> {
        self.token.as_deref()
    }
    fn expiration(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// `$CARGO_HOME/registry/src/*/aws-sigv4-*/aws-signing-test-suite/v4`.
fn suite_dir() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let mut found: Vec<PathBuf> = std::fs::read_dir(cargo_home.join("registry").join("src"))
        .expect("the cargo registry")
        .flatten()
        .flat_map(|index| {
            std::fs::read_dir(index.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("aws-sigv4-1."))
        })
        .map(|p| p.join("aws-signing-test-suite").join("v4"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found
        .pop()
        .expect("aws-sigv4 (a dev-dependency) unpacked in the cargo registry")
}

/// A request as the suite writes it: request line, headers (continuation lines folded), body.
struct Parsed {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
}

fn parse(text: &str) -> Parsed {
    let (head, _body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let method = request_line.split(' ').next().unwrap().to_owned();
    let target = request_line[method.len() + 1..request_line.rfind(" HTTP/").unwrap()].to_owned();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = fields.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').unwrap();
            fields.push((name.to_owned(), value.to_owned()));
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target, None),
    };
    Parsed {
        method,
        path: encode_raw_path(&path),
        query,
        headers,
    }
}

/// Percent-encodes what cannot appear in a request target (a raw space or UTF-8), as a client
/// would before sending.
fn encode_raw_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b == b' ' || !b.is_ascii() {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

fn verify_case(
    dir: &Path,
    file: &str,
    context: &serde_json::Value,
    tamper: bool,
) -> Result<sigv4::Verified<Key>, SigV4Error> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let mut req = parse(&text);
    if tamper {
        flip_signature(&mut req);
    }
    // The suite gives the payload hash as the last line of the canonical request.
    let creq_file = file.replace("signed-request", "canonical-request");
    let creq = std::fs::read_to_string(dir.join(creq_file)).unwrap();
    let payload_hash = creq.lines().last().unwrap().to_owned();
    let normalize = context["normalize"].as_bool().unwrap_or(true);
    let service_name = context["service"].as_str().unwrap();
    let region = context["region"].as_str().unwrap();
    let service = Service {
        name: service_name,
        region,
        path_rule: if normalize {
            PathRule::NormalizeAndDoubleEncode
        } else {
            PathRule::AsSent
        },
    };
    let now: DateTime<Utc> = context["timestamp"].as_str().unwrap().parse().unwrap();
    let creds = &context["credentials"];
    let key = Key {
        secret: creds["secret_access_key"].as_str().unwrap().to_owned(),
        token: creds["token"].as_str().map(str::to_owned),
    };
    let expected_id = creds["access_key_id"].as_str().unwrap().to_owned();
    let request = sigv4::Request {
        method: &req.method,
        path: &req.path,
        query: req.query.as_deref(),
        authority: None,
        headers: &req.headers,
        payload_hash: &payload_hash,
    };
    sigv4::verify(&request, &service, now, |id| {
        (id == expected_id).then_some(key)
    })
}

/// Changes the first hex digit of the signature, in the header or the query.
fn flip_signature(req: &mut Parsed) {
    let flip = |s: &str, marker: &str| -> String {
        let at = s.find(marker).unwrap() + marker.len();
        let c = &s[at..=at];
        let new = if c == "0" { "1" } else { "0" };
        format!("{}{new}{}", &s[..at], &s[at + 1..])
    };
    if let Some(auth) = req.headers.get("authorization") {
        let changed = flip(auth.to_str().unwrap(), "Signature=");
        req.headers
            .insert("authorization", HeaderValue::from_str(&changed).unwrap());
    } else {
        let q = req.query.as_deref().unwrap();
        req.query = Some(flip(q, "X-Amz-Signature="));
    }
}

#[test]
fn every_suite_request_verifies_and_fails_when_tampered() {
    let root = suite_dir();
    let mut checked = 0;
    let mut names: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("context.json").exists())
        .collect();
    names.sort();
    assert!(
        names.len() >= 30,
        "suite looks incomplete at {}",
        root.display()
    );
    for dir in names {
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        if NOT_ON_THE_WIRE.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let context: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("context.json")).unwrap())
                .unwrap();
        let omit_token = context["omit_session_token"].as_bool().unwrap_or(false);
        for file in ["header-signed-request.txt", "query-signed-request.txt"] {
            if !dir.join(file).exists() {
                continue;
            }
            let result = verify_case(&dir, file, &context, false);
            if omit_token {
                // The token was added after signing: we insist on signed tokens. In a query
                // string every parameter counts as signed, so there it is a mismatch.
                let expected = if file.starts_with("header") {
                    SigV4Error::TokenNotSigned
                } else {
                    SigV4Error::Mismatch
                };
                assert_eq!(result.unwrap_err(), expected, "{name}/{file}");
                continue;
            }
            let verified = result.unwrap_or_else(|e| panic!("{name}/{file}: {e:?}"));
            assert_eq!(
                verified.presigned,
                file.starts_with("query"),
                "{name}/{file}"
            );
            assert_eq!(
                verify_case(&dir, file, &context, true).unwrap_err(),
                SigV4Error::Mismatch,
                "{name}/{file} tampered"
            );
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} requests checked");
}
