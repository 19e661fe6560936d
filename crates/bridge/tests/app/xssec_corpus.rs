//! The token corpus: 30+ tokens, each judged by `@sap/xssec` 4 (as an app using it would answer:
//! 200, 401, 403, or 500 for its internal errors) and by our app over HTTP on `/jobs/ping`
//! (JobRunner). Verdicts must be identical, except for the deliberate differences listed in
//! [`STRICTER`]: inputs where xssec is lax or fails internally and we answer 401. Whatever the
//! token, we never answer 500 and never accept what xssec rejects.

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use crate::common::Setup;

/// Tokens where we are stricter than xssec 4, and why.
const STRICTER: &[(&str, &str)] = &[
    (
        "oversized",
        "tokens must stay under 16 KiB (docs/protocols.md §XSUAA token claims); xssec takes any",
    ),
    (
        "extra_segment",
        "a JWS has exactly three parts; xssec ignores a fourth",
    ),
    (
        "non_base64url_chars",
        "`+` and `/` are not base64url; xssec's decoder accepts them",
    ),
    (
        "string_scope",
        "`scope` must be an array; xssec substring-matches a string scope",
    ),
    (
        "two_parts",
        "xssec answers 500 (internal error) on a two-part token; it is a bad token",
    ),
    (
        "exp_year_10000",
        "time claims after 9999-12-31 are malformed; xssec accepts up to JavaScript's year 275760",
    ),
    (
        "iat_beyond_javascript_dates",
        "`iat` must be a positive NumericDate before the year 10000; xssec ignores `iat`",
    ),
    (
        "iat_negative",
        "`iat` must be a positive NumericDate before the year 10000; xssec ignores `iat`",
    ),
    (
        "null_header",
        "xssec answers 500 (internal error) on a `null` header; it is a bad token",
    ),
];

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn b64(v: &Value) -> String {
    B64.encode(serde_json::to_vec(v).unwrap())
}

struct Corpus<'a> {
    s: &'a Setup,
    tokens: Vec<(String, String)>,
}

impl Corpus<'_> {
    fn sign(&self, header: &Value, claims: &Value) -> String {
        self.s.dev.xsuaa().sign_jwt(header, claims, None).unwrap()
    }

    fn add(&mut self, name: &str, jwt: String) {
        testkit::logs::secret(&jwt);
        self.tokens.push((name.to_owned(), jwt));
    }

    fn header(&self) -> Value {
        self.s.dev.xsuaa().jwt_header(None)
    }

    fn cc(&self) -> Value {
        self.s
            .dev
            .xsuaa()
            .client_claims(&self.s.xsuaa.clientid)
            .unwrap()
    }

    fn with(&self, base: &Value, changes: &[(&str, Value)]) -> Value {
        let mut c = base.clone();
        for (k, v) in changes {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(*k);
            } else {
                c[*k] = v.clone();
            }
        }
        c
    }

    fn add_claims(&mut self, name: &str, changes: &[(&str, Value)]) {
        let claims = self.with(&self.cc(), changes);
        let jwt = self.sign(&self.header(), &claims);
        self.add(name, jwt);
    }

    fn add_header(&mut self, name: &str, changes: &[(&str, Value)]) {
        let header = self.with(&self.header(), changes);
        let jwt = self.sign(&header, &self.cc());
        self.add(name, jwt);
    }

    /// A token whose signature part is computed by `sign` over `header.claims`.
    fn add_raw(
        &mut self,
        name: &str,
        header: &Value,
        claims: &Value,
        sign: impl Fn(&[u8]) -> Vec<u8>,
    ) {
        let input = format!("{}.{}", b64(header), b64(claims));
        let sig = sign(input.as_bytes());
        self.add(name, format!("{input}.{}", B64.encode(sig)));
    }
}

async fn ours(s: &Setup, jwt: &str) -> u16 {
    s.http()
        .get(format!("{}/jobs/ping", s.app))
        .header("authorization", format!("Bearer {jwt}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn xssec(s: &Setup, tokens: &[(String, String)]) -> Vec<Value> {
    let credentials = s.dev.vcap_services()["xsuaa"][0]["credentials"].clone();
    let input = json!({
        "credentials": credentials,
        "scope": "JobRunner",
        "tokens": tokens.iter().map(|(name, jwt)| json!({"name": name, "jwt": jwt})).collect::<Vec<_>>(),
    });
    let mut child = testkit::node_script("xssec.mjs")
        .arg("verdicts")
        .env("NODE_EXTRA_CA_CERTS", s.dev.ca_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node must be installed (cargo xtask ci installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    testkit::logs::capture_output("node xssec.mjs verdicts (stderr)", &stderr);
    assert!(out.status.success(), "xssec script failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn our_verdicts_match_xssec_4() {
    // No grace period: a rotated-out key disappears from /token_keys at once.
    let s = Setup::start_with(|c| c.xsuaa_key_grace = Duration::ZERO).await;
    let mut c = Corpus {
        s: &s,
        tokens: Vec::new(),
    };
    let t = now();

    // Minted with the first key, which is then rotated out before anyone fetches the keys.
    let old_header = c.header();
    let old = c.sign(&old_header, &c.cc());
    c.add("rotated_out_key", old);
    s.dev.rotate_keys().unwrap();

    let xsappname = s.xsuaa.xsappname.clone();
    let job = format!("{xsappname}.JobRunner");
    let read = format!("{xsappname}.Read");

    c.add_claims("valid_client_credentials", &[]);
    let alice = s.dev.xsuaa().user_claims("alice").unwrap();
    let jwt = c.sign(&c.header(), &alice);
    c.add("valid_user_without_job_scope", jwt);
    let bob = s.dev.xsuaa().user_claims("bob").unwrap();
    let jwt = c.sign(&c.header(), &bob);
    c.add("valid_viewer_without_job_scope", jwt);
    c.add_claims(
        "expired_long_ago",
        &[("exp", json!(t - 3600)), ("iat", json!(t - 7200))],
    );
    c.add_claims("expired_within_leeway", &[("exp", json!(t - 30))]);
    c.add_claims("expired_beyond_leeway", &[("exp", json!(t - 65))]);
    c.add_claims("no_exp", &[("exp", Value::Null)]);
    c.add_claims("exp_as_string", &[("exp", json!((t + 600).to_string()))]);
    c.add_claims("nbf_far_future", &[("nbf", json!(t + 3600))]);
    c.add_claims("nbf_within_leeway", &[("nbf", json!(t + 30))]);
    // Time claims beyond any real issuer's (issue 12): past JavaScript's date range xssec
    // rejects them too; between the year 9999 and that range only we do.
    c.add_claims("exp_beyond_javascript_dates", &[("exp", json!(1e13))]);
    c.add_claims("exp_year_10000", &[("exp", json!(253_402_300_800_i64))]);
    c.add_claims("exp_year_9999", &[("exp", json!(253_402_300_799_i64))]);
    c.add_claims("iat_beyond_javascript_dates", &[("iat", json!(1e13))]);
    c.add_claims("iat_negative", &[("iat", json!(-5))]);
    c.add_claims("nbf_beyond_javascript_dates", &[("nbf", json!(1e13))]);
    c.add_claims(
        "wrong_audience",
        &[
            ("aud", json!(["other!t9", "sb-other!t9"])),
            ("cid", json!("sb-other!t9")),
            ("client_id", json!("sb-other!t9")),
            ("azp", json!("sb-other!t9")),
            ("scope", json!(["other!t9.Do"])),
        ],
    );
    c.add_claims(
        "audience_only_via_scopes",
        &[
            ("aud", Value::Null),
            ("cid", json!("sb-caller!t9")),
            ("client_id", json!("sb-caller!t9")),
            ("scope", json!([job.clone()])),
        ],
    );
    c.add_claims(
        "audience_via_cid_only_no_scope",
        &[("aud", json!([])), ("scope", json!([]))],
    );
    c.add_claims("aud_as_string", &[("aud", json!(xsappname.clone()))]);
    c.add_claims("missing_job_scope", &[("scope", json!([read.clone()]))]);
    c.add_claims(
        "foreign_zone",
        &[("zid", json!("0f0f0f0f-1111-4222-8333-444444444444"))],
    );
    c.add_claims("string_scope", &[("scope", json!(job.clone()))]);
    c.add_header("unknown_kid", &[("kid", json!("default-jwt-key--1"))]);
    c.add_header("no_kid", &[("kid", Value::Null)]);
    c.add_header(
        "evil_jku_ignored",
        &[("jku", json!("https://evil.example/token_keys"))],
    );
    c.add_header("alg_lowercase", &[("alg", json!("rs256"))]);
    c.add_header("alg_header_rs512_signed_rs256", &[("alg", json!("RS512"))]);

    let header = c.header();
    let claims = c.cc();
    c.add_raw(
        "alg_none",
        &c.with(&header, &[("alg", json!("none"))]),
        &claims,
        |_| Vec::new(),
    );
    let pem = s.dev.xsuaa().verification_key();
    c.add_raw(
        "hs256_with_public_key",
        &c.with(&header, &[("alg", json!("HS256"))]),
        &claims,
        |m| {
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, pem.as_bytes()), m)
                .as_ref()
                .to_vec()
        },
    );
    let foreign = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    c.add_raw("signed_by_a_foreign_key", &header, &claims, |m| {
        let mut sig = vec![0u8; foreign.public_modulus_len()];
        foreign
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                m,
                &mut sig,
            )
            .unwrap();
        sig
    });

    // Tampering with a valid token.
    let valid = c.sign(&header, &claims);
    let parts: Vec<&str> = valid.split('.').collect();
    let more = c.with(
        &claims,
        &[(
            "scope",
            json!([job.clone(), read.clone(), format!("{xsappname}.Write")]),
        )],
    );
    c.add(
        "tampered_payload",
        format!("{}.{}.{}", parts[0], b64(&more), parts[2]),
    );
    let mut sig = B64.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    c.add(
        "tampered_signature",
        format!("{}.{}.{}", parts[0], parts[1], B64.encode(sig)),
    );
    c.add("extra_segment", format!("{valid}.extra"));
    c.add(
        "padded_base64",
        format!("{}.{}=.{}", parts[0], parts[1], parts[2]),
    );
    let std =
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(B64.decode(parts[2]).unwrap());
    c.add(
        "non_base64url_chars",
        format!("{}.{}.{}", parts[0], parts[1], std),
    );
    c.add("two_parts", format!("{}.{}", parts[0], parts[1]));
    c.add(
        "null_header",
        format!("{}.{}.{}", B64.encode("null"), parts[1], parts[2]),
    );
    c.add("garbage", "not-a-jwt-at-all".to_owned());
    c.add(
        "empty_json_parts",
        format!("{}.{}.", B64.encode("{}"), B64.encode("{}")),
    );
    let big = c.with(&claims, &[("padding", json!("x".repeat(20_000)))]);
    let jwt = c.sign(&header, &big);
    c.add("oversized", jwt);

    assert!(c.tokens.len() >= 30, "corpus has {} tokens", c.tokens.len());
    let verdicts = xssec(&s, &c.tokens);
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for ((name, jwt), v) in c.tokens.iter().zip(&verdicts) {
        assert_eq!(v["name"], name.as_str());
        let theirs = v["status"].as_u64().unwrap() as u16;
        let ours = ours(&s, jwt).await;
        table.push(format!(
            "{name:34} xssec {theirs} ({})  ours {ours}",
            v["error"].as_str().unwrap_or("ok")
        ));
        if ours == 500 {
            failures.push(format!("{name}: we answered 500"));
        }
        let stricter = STRICTER.iter().any(|(n, _)| *n == name);
        if stricter {
            if ours != 401 {
                failures.push(format!(
                    "{name}: listed as stricter, but we answered {ours}"
                ));
            }
            if theirs == 401 {
                failures.push(format!(
                    "{name}: listed as stricter, but xssec rejects it too: remove it from STRICTER"
                ));
            }
        } else if theirs != ours {
            failures.push(format!("{name}: xssec {theirs}, ours {ours}"));
        }
    }
    testkit::logs::capture_output("xssec corpus", &table.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n\n{}",
        failures.join("\n"),
        table.join("\n")
    );
    // The corpus exercises all three outcomes.
    for status in [200, 401, 403] {
        assert!(
            table.iter().any(|l| l.ends_with(&format!("ours {status}"))),
            "no {status} in corpus"
        );
    }
    s.stop().await;
}
