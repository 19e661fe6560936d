//! `sigv4`: [`devstack::sigv4::verify`], the verifier of the local STS (Query protocol, path
//! normalised and encoded twice) and of any S3-style service (path as sent), on requests in
//! the `Authorization` header form and the presigned query form.
//!
//! Seeds are signed by the reference signer, `aws-sigv4`: an STS `POST` with a form body and a
//! long-term key, an STS `GET` with a session token, an S3 `GET` with
//! `x-amz-content-sha256`, presigned S3 and STS URLs. Mutations are field-aware: the method,
//! the path, one query parameter, one component of the `Authorization` header (algorithm,
//! each part of the credential scope, the signed header list, the signature, the separators),
//! `x-amz-date` (odd dates, Unicode whitespace), a `Date` header instead, the session token,
//! other headers, the authority, the payload hash, the server's clock; then byte-level edits.
//! A share of the inputs are fresh requests with random paths, queries and headers, signed by
//! `aws-sigv4` and left alone.
//!
//! Properties: a fresh reference-signed request within the clock window verifies; `Ok` names
//! one of our keys, is never given for an expired session, and says `presigned` exactly when
//! the query carries `X-Amz-Algorithm`.

use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use devstack::sigv4::{self, PathRule, Service, SigningKey};
use fastrand::Rng;
use serde_json::{Value, json};

use super::{from_latin1, keep_in, latin1};
use crate::harness::{Target, Verdict};
use crate::mutate::{self, chance, pick};

const REGION: &str = "eu-central-1";
/// The seeds' signing time: 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600;

/// An access key the lookup knows.
#[derive(Debug, Clone)]
struct Key {
    id: &'static str,
    secret: &'static str,
    token: Option<&'static str>,
    expires: Option<i64>,
}

impl SigningKey for Key {
    fn secret_access_key(&self) -> &str {
        self.secret
    }

    fn session_token(&self) -> Option<&str> {
        self.token
    }

    fn expiration(&self) -> Option<DateTime<Utc>> {
        self.expires.and_then(|s| DateTime::from_timestamp(s, 0))
    }
}

const KEYS: [Key; 3] = [
    Key {
        id: "AKIASOAKLONGTERM0001",
        secret: "longterm/Secret+Key0000000000000000000000",
        token: None,
        expires: None,
    },
    Key {
        id: "ASIASOAKTEMPORARY001",
        secret: "temporary/Secret+Key000000000000000000000",
        token: Some("IQoJb3JpZ2luX2VjEPr//////////soak+token/with=padding"),
        expires: Some(T0 + 3600),
    },
    Key {
        id: "ASIASOAKEXPIRED00001",
        secret: "expired/Secret+Key00000000000000000000000",
        token: Some("expired-session-token"),
        expires: Some(T0 - 1),
    },
];

/// One request as the verifier sees it, with the server's clock.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    s3: bool,
    method: String,
    path: String,
    query: Option<String>,
    authority: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    payload_hash: String,
    /// The server's clock, Unix milliseconds.
    now_ms: i64,
    /// Signed by `aws-sigv4` just now and left alone, with a live key inside the window: it
    /// must verify.
    must_verify: bool,
}

/// A request to sign.
struct Draft<'a> {
    s3: bool,
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: Vec<(String, String)>,
    body: &'a [u8],
    /// S3's `UNSIGNED-PAYLOAD` instead of the body's hash.
    unsigned: bool,
    key: &'a Key,
    time: i64,
    presign: Option<u64>,
}

fn service(s3: bool) -> Service<'static> {
    if s3 {
        Service {
            name: "s3",
            region: REGION,
            path_rule: PathRule::AsSent,
        }
    } else {
        Service {
            name: "sts",
            region: REGION,
            path_rule: PathRule::NormalizeAndDoubleEncode,
        }
    }
}

fn host(s3: bool) -> &'static str {
    if s3 {
        "bucket.s3.eu-central-1.amazonaws.com"
    } else {
        "sts.eu-central-1.amazonaws.com"
    }
}

/// Signs `draft` with `aws-sigv4`; `None` if the signer refuses it.
fn signed(draft: &Draft<'_>) -> Option<Input> {
    let identity = Credentials::new(
        draft.key.id,
        draft.key.secret,
        draft.key.token.map(str::to_owned),
        None,
        "soak",
    )
    .into();
    let mut settings = SigningSettings::default();
    if draft.s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    if let Some(secs) = draft.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(secs));
    }
    let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(draft.time).ok()?);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service(draft.s3).name)
        .time(time)
        .settings(settings)
        .build()
        .ok()?
        .into();
    let host = host(draft.s3);
    let uri = if draft.query.is_empty() {
        format!("https://{host}{}", draft.path)
    } else {
        format!("https://{host}{}?{}", draft.path, draft.query)
    };
    let signable = SignableRequest::new(
        draft.method,
        uri.as_str(),
        draft.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        if draft.unsigned {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(draft.body)
        },
    )
    .ok()?;
    let (instructions, _) = sign(signable, &params).ok()?.into_parts();
    let (signed_headers, query_params) = instructions.into_parts();
    let mut query = draft.query.to_owned();
    for (k, v) in &query_params {
        let pair: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(k, v)
            .finish();
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&pair);
    }
    let mut headers: Vec<(String, Vec<u8>)> = vec![("host".into(), host.as_bytes().to_vec())];
    headers.extend(
        draft
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes())),
    );
    headers.extend(
        signed_headers
            .iter()
            .map(|h| (h.name().to_owned(), h.value().as_bytes().to_vec())),
    );
    let payload_hash = if draft.unsigned {
        "UNSIGNED-PAYLOAD".to_owned()
    } else {
        sigv4::payload_hash(draft.body)
    };
    Some(Input {
        s3: draft.s3,
        method: draft.method.to_owned(),
        path: draft.path.to_owned(),
        query: (!query.is_empty()).then_some(query),
        authority: None,
        headers,
        payload_hash,
        now_ms: draft.time * 1000,
        must_verify: false,
    })
}

const DATES: &[&str] = &[
    "20250101T000000Z",
    "20250101T000000",
    "2025-01-01T00:00:00Z",
    "20250101T240000Z",
    "20251301T000000Z",
    "20241231T235960Z",
    "20250229T000000Z",
    "99991231T235959Z",
    "00000101T000000Z",
    "+2620000101T000000Z",
    "-0001-0101T000000Z",
    " 20250101T000000Z",
    "202501\u{2003}01T000000Z",
    "2025\u{2003}0101T000000Z",
    "2025010\u{3000}1T000000Z",
    "20250101T000000Z ",
    "20250101t000000z",
    "2025010１T000000Z",
    "",
];

const RFC2822: &[&str] = &[
    "Wed, 01 Jan 2025 00:00:00 GMT",
    "Wed, 01 Jan 2025 00:00:00 +0000",
    "Wed, 1 Jan 2025 00:00:00 -1400",
    "Thu, 01 Jan 2025 00:00:00 GMT",
    "01 Jan 99 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:60 +1400",
    "Mon, 01 Jan 0000 00:00:00 GMT",
    "Wed, 01 Jan 2025 00:00 GMT",
    "garbage",
];

const QUERY_NAMES: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "Action",
    "Version",
    "x-amz-algorithm",
];

const QUERY_VALUES: &[&str] = &[
    "AWS4-HMAC-SHA256",
    "aws4-hmac-sha256",
    "AWS4-ECDSA-P256-SHA256",
    "AKIASOAKLONGTERM0001%2F20250101%2Feu-central-1%2Fs3%2Faws4_request",
    "ASIASOAKTEMPORARY001/20250101/eu-central-1/sts/aws4_request",
    "20250101T000000Z",
    "604800",
    "604801",
    "-1",
    "9223372036854775807",
    "9223372036854775808",
    "host",
    "host%3Bx-amz-date",
    "",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "GetCallerIdentity",
    "2011-06-15",
];

const CREDENTIAL_PARTS: &[&str] = &[
    "AKIASOAKLONGTERM0001",
    "ASIASOAKTEMPORARY001",
    "ASIASOAKEXPIRED00001",
    "AKIAUNKNOWN000000000",
    "",
    "20250101",
    "20241231",
    "2025010",
    "20250101T000000Z",
    "eu-central-1",
    "us-east-1",
    "EU-CENTRAL-1",
    "s3",
    "sts",
    "STS",
    "aws4_request",
    "aws4_requesT",
    "é",
];

const HEADER_NAMES: &[&str] = &[
    "host",
    "x-amz-date",
    "date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "content-type",
    "x-amz-meta-a",
    "authorization",
    ":authority",
    "HOST",
];

/// Seed requests, all signed at [`T0`].
fn seeds() -> Vec<Input> {
    let form = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fbtp-bridge-s3&RoleSessionName=soak&ExternalId=x";
    let drafts = [
        Draft {
            s3: false,
            method: "POST",
            path: "/",
            query: "",
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            )],
            body: form,
            unsigned: false,
            key: &KEYS[0],
            time: T0,
            presign: None,
        },
        Draft {
            s3: false,
            method: "GET",
            path: "/",
            query: "Action=GetCallerIdentity&Version=2011-06-15",
            headers: Vec::new(),
            body: b"",
            unsigned: false,
            key: &KEYS[1],
            time: T0,
            presign: None,
        },
        Draft {
            s3: true,
            method: "GET",
            path: "/docs/a%20b/%C3%A9.pdf",
            query: "versionId=3&x-id=GetObject",
            headers: Vec::new(),
            body: b"",
            unsigned: true,
            key: &KEYS[1],
            time: T0,
            presign: None,
        },
        Draft {
            s3: true,
            method: "PUT",
            path: "/docs/key",
            query: "",
            headers: Vec::new(),
            body: b"hello",
            unsigned: false,
            key: &KEYS[0],
            time: T0,
            presign: None,
        },
        Draft {
            s3: true,
            method: "GET",
            path: "/docs/report.pdf",
            query: "response-content-type=application%2Fpdf",
            headers: Vec::new(),
            body: b"",
            unsigned: true,
            key: &KEYS[1],
            time: T0,
            presign: Some(3600),
        },
        Draft {
            s3: false,
            method: "GET",
            path: "/",
            query: "Action=GetCallerIdentity&Version=2011-06-15",
            headers: Vec::new(),
            body: b"",
            unsigned: false,
            key: &KEYS[0],
            time: T0,
            presign: Some(900),
        },
        Draft {
            s3: true,
            method: "GET",
            path: "/",
            query: "",
            headers: Vec::new(),
            body: b"",
            unsigned: true,
            key: &KEYS[2],
            time: T0,
            presign: None,
        },
    ];
    drafts.iter().filter_map(signed).collect()
}

/// A path, query or header value of random but wire-valid characters.
fn wire_text(rng: &mut Rng, max: usize, slash: bool) -> String {
    let n = rng.usize(..=max);
    let mut out = String::new();
    for _ in 0..n {
        match rng.u8(..20) {
            0 => out.push_str(mutate::word(
                rng,
                &["%20", "%2F", "%C3%A9", "%25", "%7E", "%2B"],
            )),
            1 if slash => out.push('/'),
            2 => out.push(*pick(rng, &['-', '_', '.', '~'])),
            _ => out.push(rng.alphanumeric()),
        }
    }
    out
}

/// The `sigv4` target.
pub(crate) struct SigV4 {
    seeds: Vec<Input>,
    pool: Vec<Input>,
}

impl SigV4 {
    pub(crate) fn new() -> Self {
        Self {
            seeds: seeds(),
            pool: Vec::new(),
        }
    }

    /// A random request signed just now by the reference signer, with a live key.
    fn fresh(rng: &mut Rng) -> Option<Input> {
        let s3 = rng.bool();
        let mut path = String::from("/");
        for _ in 0..rng.usize(..4) {
            path.push_str(&wire_text(rng, 8, false));
            path.push('/');
        }
        if rng.bool() {
            path.pop();
            if path.is_empty() {
                path.push('/');
            }
        }
        if !s3 {
            // Non-S3 services sign the normalised path; only send paths that are normal
            // already, as the SDKs do.
            path = format!(
                "/{}",
                path.split('/')
                    .filter(|s| !s.is_empty() && *s != "." && *s != "..")
                    .collect::<Vec<_>>()
                    .join("/")
            );
        }
        let query = (0..rng.usize(..4))
            .map(|_| {
                format!(
                    "{}={}",
                    wire_text(rng, 6, false).replace('~', "-"),
                    wire_text(rng, 8, true)
                )
            })
            .filter(|p| !p.starts_with('='))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = Vec::new();
        let unsigned = s3 && rng.bool();
        for _ in 0..rng.usize(..3) {
            let name = format!(
                "x-amz-meta-{}",
                wire_text(rng, 5, false)
                    .to_ascii_lowercase()
                    .replace('%', "p")
            );
            let value: String = (0..rng.usize(..12))
                .map(|_| *pick(rng, &['a', 'B', '7', ' ', '/', ':', '=', ',']))
                .collect();
            headers.push((name, value));
        }
        let body = mutate::random_bytes(rng, 32);
        let key = &KEYS[rng.usize(..2)];
        let time = T0 + rng.i64(-400_000_000..400_000_000);
        let presign = chance(rng, 30).then(|| rng.u64(1..=604_800));
        let method = *pick(rng, &["GET", "POST", "PUT", "DELETE", "HEAD"]);
        let mut input = signed(&Draft {
            s3,
            method,
            path: &path,
            query: &query,
            headers,
            body: &body,
            unsigned,
            key,
            time,
            presign,
        })?;
        // Inside the window: within 15 minutes, and (presigned) not past X-Amz-Expires.
        let ahead = rng.i64(-890_000..890_000);
        let ahead = match presign {
            Some(secs) => rng.i64(0..=i64::try_from(secs).unwrap_or(0) * 1000),
            None => ahead,
        };
        input.now_ms = time * 1000 + ahead;
        input.must_verify = key.expires.is_none_or(|e| input.now_ms < e * 1000);
        Some(input)
    }

    fn mutate(rng: &mut Rng, input: &mut Input) {
        for _ in 0..mutate::small_count(rng) {
            match rng.u8(..16) {
                0 => {
                    input.method = if rng.bool() {
                        (*pick(rng, &["GET", "POST", "get", "", "PUT ", "G\u{e9}T"])).to_owned()
                    } else {
                        mutate::text(rng, &input.method, &[], 16)
                    };
                }
                1 => {
                    input.path = mutate::text(
                        rng,
                        &input.path,
                        &[
                            "/", "..", ".", "%2F", "%", "%zz", "//", "~", "%7E", "/./", "/../",
                        ],
                        4096,
                    );
                }
                2 | 3 => Self::mutate_query(rng, input),
                4..=6 => Self::mutate_authorization(rng, input),
                7 => {
                    let date = if rng.bool() {
                        (*pick(rng, DATES)).to_owned()
                    } else {
                        let old = header(input, "x-amz-date").unwrap_or_default();
                        mutate::text(rng, &old, &["T", "Z", "0", " "], 64)
                    };
                    set_header(input, "x-amz-date", date.into_bytes());
                }
                8 => {
                    remove_header(input, "x-amz-date");
                    set_header(input, "date", pick(rng, RFC2822).as_bytes().to_vec());
                }
                9 => match rng.u8(..3) {
                    0 => remove_header(input, "x-amz-security-token"),
                    1 => {
                        let token = KEYS[rng.usize(..3)].token.unwrap_or("");
                        input
                            .headers
                            .push(("x-amz-security-token".into(), token.as_bytes().to_vec()));
                    }
                    _ => {
                        let old = header(input, "x-amz-security-token").unwrap_or_default();
                        set_header(
                            input,
                            "x-amz-security-token",
                            mutate::text(rng, &old, &["+", "/", "="], 256).into_bytes(),
                        );
                    }
                },
                10 => {
                    let name = (*pick(rng, HEADER_NAMES)).to_owned();
                    let mut value = pick(
                        rng,
                        &[
                            "",
                            "x",
                            "bucket.s3.eu-central-1.amazonaws.com",
                            "UNSIGNED-PAYLOAD",
                            "a  b  c",
                        ],
                    )
                    .as_bytes()
                    .to_vec();
                    mutate::bytes(rng, &mut value, &[], 128);
                    input.headers.push((name, value));
                }
                11 if !input.headers.is_empty() => {
                    let i = rng.usize(..input.headers.len());
                    input.headers.remove(i);
                }
                12 => {
                    input.authority = match rng.u8(..3) {
                        0 => None,
                        1 => Some(host(input.s3).to_owned()),
                        _ => Some(mutate::text(
                            rng,
                            "sts.eu-central-1.amazonaws.com:443",
                            &[":", "@"],
                            64,
                        )),
                    };
                }
                13 => {
                    input.payload_hash = (*pick(
                        rng,
                        &[
                            "UNSIGNED-PAYLOAD",
                            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                            "",
                            sigv4::EMPTY_SHA256,
                        ],
                    ))
                    .to_owned();
                }
                14 => {
                    let shift = match rng.u8(..6) {
                        0 => rng.i64(-1_000..1_000),
                        1 => 900_000 + rng.i64(-1_000..1_000),
                        2 => -900_000 + rng.i64(-1_000..1_000),
                        3 => 3_600_000 + rng.i64(-1_000..1_000),
                        4 => 604_800_000 + rng.i64(-1_000..1_000),
                        _ => rng.i64(-60_000_000_000..200_000_000_000),
                    };
                    input.now_ms = (input.now_ms + shift).clamp(0, 253_402_300_799_000);
                }
                _ => input.s3 = !input.s3,
            }
        }
        if chance(rng, 10) && !input.headers.is_empty() {
            let i = rng.usize(..input.headers.len());
            mutate::bytes(rng, &mut input.headers[i].1, &[",", "=", "/", " "], 4096);
        }
    }

    fn mutate_query(rng: &mut Rng, input: &mut Input) {
        let q = input.query.take().unwrap_or_default();
        let mut pairs: Vec<String> = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        match rng.u8(..6) {
            0 if !pairs.is_empty() => {
                let i = rng.usize(..pairs.len());
                pairs[i] = mutate::text(rng, &pairs[i], &["=", "%2F", "%3B", "+", "/"], 1024);
            }
            1 if !pairs.is_empty() => {
                pairs.remove(rng.usize(..pairs.len()));
            }
            2 if !pairs.is_empty() => {
                let i = rng.usize(..pairs.len());
                pairs.push(pairs[i].clone());
            }
            3 => pairs.push(format!(
                "{}={}",
                pick(rng, QUERY_NAMES),
                pick(rng, QUERY_VALUES)
            )),
            4 if chance(rng, 50) => {
                // An odd date in the presigned form, where it may be any UTF-8.
                let date: String =
                    url::form_urlencoded::byte_serialize(mutate::word(rng, DATES).as_bytes())
                        .collect();
                pairs.retain(|p| !p.starts_with("X-Amz-Date="));
                pairs.push(format!("X-Amz-Date={date}"));
            }
            4 => rng.shuffle(&mut pairs),
            _ => {
                let text = pairs.join("&");
                pairs = vec![mutate::text(rng, &text, &["&", "=", "X-Amz-"], 4096)];
            }
        }
        let q = pairs.join("&");
        input.query = (!q.is_empty() || chance(rng, 50)).then_some(q);
    }

    fn mutate_authorization(rng: &mut Rng, input: &mut Input) {
        let Some(auth) = header(input, "authorization") else {
            if chance(rng, 30) {
                let value = format!(
                    "AWS4-HMAC-SHA256 Credential={}/20250101/{REGION}/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
                    pick(rng, CREDENTIAL_PARTS),
                    "0".repeat(64)
                );
                set_header(input, "authorization", value.into_bytes());
            }
            return;
        };
        let (alg, rest) = auth.split_once(' ').unwrap_or((&auth, ""));
        let mut alg = alg.to_owned();
        let mut params: Vec<(String, String)> = rest
            .split(',')
            .map(|p| {
                let (k, v) = p.trim().split_once('=').unwrap_or((p.trim(), ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let pick_param = |rng: &mut Rng, params: &[(String, String)], name: &str| {
            params
                .iter()
                .position(|(k, _)| k == name)
                .or_else(|| (!params.is_empty()).then(|| rng.usize(..params.len())))
        };
        match rng.u8(..9) {
            0 => {
                alg = (*pick(
                    rng,
                    &[
                        "aws4-hmac-sha256",
                        "AWS4-ECDSA-P256-SHA256",
                        "AWS",
                        "",
                        "AWS4-HMAC-SHA256x",
                        "AWS4-HMAC-SHA256,",
                    ],
                ))
                .to_owned();
            }
            1 | 2 => {
                if let Some(i) = pick_param(rng, &params, "Credential") {
                    let mut parts: Vec<String> =
                        params[i].1.split('/').map(str::to_owned).collect();
                    match rng.u8(..4) {
                        0 => parts.push((*pick(rng, CREDENTIAL_PARTS)).to_owned()),
                        1 if !parts.is_empty() => {
                            parts.remove(rng.usize(..parts.len()));
                        }
                        _ if !parts.is_empty() => {
                            let j = rng.usize(..parts.len());
                            parts[j] = if rng.bool() {
                                (*pick(rng, CREDENTIAL_PARTS)).to_owned()
                            } else {
                                mutate::text(rng, &parts[j], CREDENTIAL_PARTS, 64)
                            };
                        }
                        _ => {}
                    }
                    params[i].1 = parts.join("/");
                }
            }
            3 => {
                if let Some(i) = pick_param(rng, &params, "SignedHeaders") {
                    let mut names: Vec<String> =
                        params[i].1.split(';').map(str::to_owned).collect();
                    match rng.u8(..4) {
                        0 if !names.is_empty() => {
                            names.remove(rng.usize(..names.len()));
                        }
                        1 => names.push((*pick(rng, HEADER_NAMES)).to_owned()),
                        2 => names.iter_mut().for_each(|n| *n = n.to_ascii_uppercase()),
                        _ => names.push(String::new()),
                    }
                    params[i].1 = names.join(";");
                }
            }
            4 => {
                if let Some(i) = pick_param(rng, &params, "Signature") {
                    params[i].1 = mutate::text(rng, &params[i].1, &["0", "f", "F"], 256);
                }
            }
            5 if !params.is_empty() => {
                params.remove(rng.usize(..params.len()));
            }
            6 if !params.is_empty() => {
                let i = rng.usize(..params.len());
                params.push(params[i].clone());
            }
            7 => params.push((
                (*pick(rng, &["Foo", "", "credential", " Credential"])).to_owned(),
                "x".into(),
            )),
            _ => {}
        }
        let sep = *pick(rng, &[", ", ",", " , ", ",,", ", "]);
        let joined = params
            .iter()
            .map(|(k, v)| {
                if v.is_empty() && chance(rng, 30) {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(sep);
        let mut value = format!("{alg} {joined}");
        if chance(rng, 15) {
            value = mutate::text(rng, &value, &[",", "=", "/", " ", ";"], 4096);
        }
        set_header(input, "authorization", value.into_bytes());
    }
}

fn header(input: &Input, name: &str) -> Option<String> {
    input
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
}

fn set_header(input: &mut Input, name: &str, value: Vec<u8>) {
    remove_header(input, name);
    input.headers.push((name.to_owned(), value));
}

fn remove_header(input: &mut Input, name: &str) {
    input.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
}

impl Target for SigV4 {
    type Input = Input;
    const NAME: &'static str = "sigv4";

    fn generate(&mut self, rng: &mut Rng) -> Input {
        if chance(rng, 15)
            && let Some(fresh) = Self::fresh(rng)
        {
            return fresh;
        }
        let mut input = if !self.pool.is_empty() && chance(rng, 30) {
            pick(rng, &self.pool).clone()
        } else {
            pick(rng, &self.seeds).clone()
        };
        input.must_verify = false;
        if chance(rng, 95) {
            Self::mutate(rng, &mut input);
        }
        input
    }

    fn execute(&mut self, input: &Input) -> Verdict {
        let mut headers = HeaderMap::new();
        for (name, value) in &input.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                headers.append(name, value);
            }
        }
        let request = sigv4::Request {
            method: &input.method,
            path: &input.path,
            query: input.query.as_deref(),
            authority: input.authority.as_deref(),
            headers: &headers,
            payload_hash: &input.payload_hash,
        };
        let Some(now) = DateTime::from_timestamp_millis(input.now_ms) else {
            return Verdict::Rejected;
        };
        let outcome = sigv4::verify(&request, &service(input.s3), now, |id| {
            KEYS.iter().find(|k| k.id == id).cloned()
        });
        match outcome {
            Ok(verified) => {
                let presigned =
                    url::form_urlencoded::parse(input.query.as_deref().unwrap_or("").as_bytes())
                        .any(|(k, _)| k == "X-Amz-Algorithm");
                if verified.presigned != presigned {
                    return Verdict::Violation("`presigned` does not match the query".into());
                }
                if verified.key.id != verified.access_key_id {
                    return Verdict::Violation("verified under another key's id".into());
                }
                if verified.key.expiration().is_some_and(|e| now >= e) {
                    return Verdict::Violation("accepted an expired session".into());
                }
                Verdict::Accepted
            }
            Err(e) if input.must_verify => {
                Verdict::Violation(format!("a request signed by aws-sigv4 was refused: {e:?}"))
            }
            Err(e) => {
                let _ = e.to_string();
                Verdict::Rejected
            }
        }
    }

    fn keep(&mut self, mut input: Input, rng: &mut Rng) {
        input.must_verify = false;
        keep_in(&mut self.pool, input, rng);
    }

    fn encode(input: &Input) -> Vec<u8> {
        json!({
            "s3": input.s3,
            "method": input.method,
            "path": input.path,
            "query": input.query,
            "authority": input.authority,
            "headers": input.headers.iter().map(|(k, v)| json!([k, latin1(v)])).collect::<Vec<_>>(),
            "payload_hash": input.payload_hash,
            "now_ms": input.now_ms,
            "must_verify": input.must_verify,
        })
        .to_string()
        .into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Input> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        let headers = v["headers"]
            .as_array()?
            .iter()
            .map(|h| {
                Some((
                    h.get(0)?.as_str()?.to_owned(),
                    from_latin1(h.get(1)?.as_str()?)?,
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Input {
            s3: v["s3"].as_bool()?,
            method: v["method"].as_str()?.to_owned(),
            path: v["path"].as_str()?.to_owned(),
            query: v["query"].as_str().map(str::to_owned),
            authority: v["authority"].as_str().map(str::to_owned),
            headers,
            payload_hash: v["payload_hash"].as_str()?.to_owned(),
            now_ms: v["now_ms"].as_i64()?,
            must_verify: v["must_verify"].as_bool()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_verifies_at_its_time_but_the_expired_one() {
        let mut target = SigV4::new();
        assert_eq!(target.seeds.len(), 7);
        let verdicts: Vec<Verdict> = target
            .seeds
            .clone()
            .iter()
            .map(|s| target.execute(s))
            .collect();
        let accepted = verdicts.iter().filter(|v| **v == Verdict::Accepted).count();
        assert_eq!(accepted, 6, "{verdicts:?}");
    }
}
