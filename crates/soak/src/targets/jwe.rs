//! `jwe`: [`credstore::jwe::PrivateKey::decrypt`] on compact JWEs, and the binding's key
//! parsers [`PrivateKey::from_base64_der`] and [`PublicKey::from_base64_der`] on mutated keys.
//!
//! JWEs come from our own [`PublicKey::encrypt`] at `iat`s around the policy windows (and at
//! the extremes of `i64`), and from a builder here that encrypts with any protected header
//! (mutated `alg`, `enc`, `iat`, extra members), any content key length and either key, so the
//! checks after the header see well-formed crypto; then parts are mutated as bytes (decoded,
//! edited, encoded again), swapped, added, removed, padded, or the text is edited.
//!
//! Most inputs are refused before the RSA decryption (about 1 ms each), so that the run
//! reaches its count; the share that gets there still covers the content key and tag checks.
//!
//! Property: `Ok` only for a JWE we built (modulo surrounding whitespace), to our key, with
//! the algorithms and an `iat` inside the policy's window, and then with its plaintext.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use credstore::jwe::{IatPolicy, PrivateKey, PublicKey};
use fastrand::Rng;
use serde_json::{Value, json};

use super::{from_latin1, keep_in, latin1};
use crate::harness::{Target, Verdict};
use crate::mutate::{self, Json, chance, pick};

/// The receiver's clock in the seeds.
const NOW: i64 = 1_735_689_600;

/// One execution's input.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// A compact JWE, or a base64 DER key when `key_text` is set.
    text: String,
    now: i64,
    /// `IatPolicy::REQUEST` (the store's rule) rather than `RESPONSE`.
    request_policy: bool,
    /// Decrypt with the other key.
    wrong_key: bool,
    /// Parse `text` as a binding key (PKCS#8 private, or SPKI public) instead.
    key_text: Option<KeyKind>,
    /// What a JWE we built decrypts to: its compact form and plaintext.
    expect: Option<(String, Vec<u8>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Private,
    Public,
}

/// The `jwe` target.
pub(crate) struct Jwe {
    ours: PrivateKey,
    other: PrivateKey,
    /// Our public key for the builder, with a content key wrapped to it once.
    spki: OaepPublicEncryptingKey,
    wrapped: Vec<u8>,
    cek: [u8; 32],
    /// The base64 DER of our keys, for the key parsers.
    private_b64: String,
    public_b64: String,
    seeds: Vec<(String, Vec<u8>)>,
    pool: Vec<(String, Vec<u8>)>,
}

impl Jwe {
    pub(crate) fn new() -> Self {
        // Fixed keys (`crates/soak/keys/`, made with `openssl genpkey`, for the soak only), so
        // that a saved input replays against the key it was encrypted to.
        let ours = PrivateKey::from_pkcs8(include_bytes!("../../keys/rsa-jwe.pk8"))
            .expect("the soak RSA key");
        let other = PrivateKey::from_pkcs8(include_bytes!("../../keys/rsa-jwe-other.pk8"))
            .expect("the soak RSA key");
        let public_b64 = ours.public_key_base64_der().expect("public key");
        let der = STANDARD.decode(&public_b64).unwrap_or_default();
        let spki = OaepPublicEncryptingKey::new(
            PublicEncryptingKey::from_der(&der).expect("our public key parses"),
        )
        .expect("an OAEP key");
        let mut cek = [0u8; 32];
        SystemRandom::new().fill(&mut cek).expect("random bytes");
        let wrapped = wrap(&spki, &cek).unwrap_or_default();
        let private_b64 = STANDARD.encode(ours.to_pkcs8().unwrap_or_default());
        let public = ours.public_key().expect("public key");
        let seeds = [
            (
                br#"{"username":"AKIA","password":"secret","type":"password"}"#.to_vec(),
                NOW,
            ),
            (Vec::new(), NOW - 599),
            (b"x".repeat(5000), NOW + 599),
            (b"\xff\x00binary".to_vec(), NOW - 119),
        ]
        .into_iter()
        .filter_map(|(plain, iat)| Some((public.encrypt(&plain, iat).ok()?, plain)))
        .collect();
        Self {
            ours,
            other,
            spki,
            wrapped,
            cek,
            private_b64,
            public_b64,
            seeds,
            pool: Vec::new(),
        }
    }

    /// A JWE with this protected header, encrypted for real: to our key, with the shared
    /// content key, or a fresh one of another length now and then.
    fn build(&self, rng: &mut Rng, header: &str, plain: &[u8]) -> Option<String> {
        let header_b64 = URL_SAFE_NO_PAD.encode(header);
        let (cek, wrapped) = if chance(rng, 3) {
            // A content key of the wrong length, wrapped correctly.
            let len = *pick(rng, &[0, 16, 31, 33, 64]);
            (self.cek, wrap(&self.spki, &vec![7u8; len])?)
        } else {
            (self.cek, self.wrapped.clone())
        };
        let mut iv = [0u8; NONCE_LEN];
        rng.fill(&mut iv);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &cek).ok()?);
        let mut body = plain.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(header_b64.as_bytes()),
                &mut body,
            )
            .ok()?;
        Some(format!(
            "{header_b64}.{}.{}.{}.{}",
            URL_SAFE_NO_PAD.encode(wrapped),
            URL_SAFE_NO_PAD.encode(iv),
            URL_SAFE_NO_PAD.encode(body),
            URL_SAFE_NO_PAD.encode(tag.as_ref()),
        ))
    }

    fn header(rng: &mut Rng) -> String {
        let iat: Value = match rng.u8(..10) {
            0..=5 => json!(NOW + rng.i64(-700..700)),
            6 => json!(*pick(
                rng,
                &[
                    i64::MIN,
                    i64::MAX,
                    i64::MIN + 1,
                    0,
                    -1,
                    NOW - 600,
                    NOW + 600,
                    NOW - 601,
                    NOW + 601
                ]
            )),
            7 => mutate::number(rng),
            8 => json!(format!("{NOW}")),
            _ => Value::Null,
        };
        let mut header = json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "iat": iat});
        if chance(rng, 30) {
            let json = Json {
                keys: &["alg", "enc", "iat", "zip", "kid", "cty", "typ", "crit"],
                strings: &[
                    "RSA-OAEP-256",
                    "rsa-oaep-256",
                    "RSA-OAEP",
                    "RSA1_5",
                    "dir",
                    "A256GCM",
                    "A128GCM",
                    "A256CBC-HS512",
                    "DEF",
                    "",
                ],
            };
            json.mutate(rng, &mut header, false);
            return json.write(rng, &header, &["\"alg\":", "\"iat\":", ","], 4096);
        }
        header.to_string()
    }

    /// Edits one part of a compact JWE, or the whole text.
    fn mutate_compact(rng: &mut Rng, compact: &str) -> String {
        let mut parts: Vec<String> = compact.split('.').map(str::to_owned).collect();
        match rng.u8(..10) {
            0..=3 if !parts.is_empty() => {
                // Decode, edit the bytes, encode again: the part stays valid base64url. The
                // header is the likeliest, so most inputs stop before the RSA decryption.
                let i = if chance(rng, 60) {
                    0
                } else {
                    rng.usize(..parts.len())
                };
                let mut bytes = URL_SAFE_NO_PAD.decode(&parts[i]).unwrap_or_default();
                mutate::bytes(
                    rng,
                    &mut bytes,
                    &["\"iat\":", "RSA-OAEP-256", "A256GCM", "{", "}"],
                    4096,
                );
                parts[i] = URL_SAFE_NO_PAD.encode(bytes);
            }
            4 if parts.len() > 1 => {
                let (i, j) = (rng.usize(..parts.len()), rng.usize(..parts.len()));
                parts.swap(i, j);
            }
            5 => parts.push(if rng.bool() {
                String::new()
            } else {
                "AA".into()
            }),
            6 if !parts.is_empty() => {
                parts.remove(rng.usize(..parts.len()));
            }
            7 if !parts.is_empty() => {
                let i = rng.usize(..parts.len());
                parts[i].push_str(mutate::word(rng, &["=", "==", "+", "/", " ", "A"]));
            }
            _ => {
                return mutate::text(
                    rng,
                    compact,
                    &[".", "=", "-", "_", " ", "\n", "eyJ"],
                    1 << 20,
                );
            }
        }
        let mut out = parts.join(".");
        if chance(rng, 5) {
            out = format!(
                "{}{out}{}",
                pick(rng, &[" ", "\n", "\t", "\u{a0}"]),
                pick(rng, &[" ", "\r\n", ""])
            );
        }
        out
    }
}

/// Why the protected header of `compact` should have been refused, if it should.
fn header_breaks_rules(compact: &str, policy: IatPolicy, now: i64) -> Option<&'static str> {
    let header = compact.split('.').next().unwrap_or("");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header["alg"] != "RSA-OAEP-256" || header["enc"] != "A256GCM" {
        return Some("names other algorithms");
    }
    let Some(iat) = header["iat"].as_i64() else {
        return Some("has no integer iat");
    };
    let (now, iat) = (i128::from(now), i128::from(iat));
    if now - iat > i128::from(policy.max_age_secs) || iat - now > i128::from(policy.max_future_secs)
    {
        return Some("has an iat outside the window");
    }
    None
}

/// RSA-OAEP-256 of `cek` to `key`.
fn wrap(key: &OaepPublicEncryptingKey, cek: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; key.ciphertext_size()];
    key.encrypt(&OAEP_SHA256_MGF1SHA256, cek, &mut out, None)
        .ok()
        .map(|out| out.to_vec())
}

impl Target for Jwe {
    type Input = Input;
    const NAME: &'static str = "jwe";

    fn generate(&mut self, rng: &mut Rng) -> Input {
        let mut input = Input {
            text: String::new(),
            now: if chance(rng, 95) {
                NOW + rng.i64(-3..3)
            } else {
                *pick(rng, &[i64::MIN, i64::MAX, 0, -1, NOW + 1_000_000])
            },
            request_policy: chance(rng, 30),
            wrong_key: chance(rng, 3),
            key_text: None,
            expect: None,
        };
        match rng.u8(..100) {
            0..=44 => {
                let (compact, plain) = if !self.pool.is_empty() && chance(rng, 30) {
                    pick(rng, &self.pool).clone()
                } else {
                    pick(rng, &self.seeds).clone()
                };
                input.text = if chance(rng, 97) {
                    Self::mutate_compact(rng, &compact)
                } else {
                    compact.clone()
                };
                if input.text.trim() == compact {
                    input.expect = Some((compact, plain));
                }
            }
            45..=69 => {
                let plain = mutate::random_bytes(rng, 64);
                let header = Self::header(rng);
                if let Some(compact) = self.build(rng, &header, &plain) {
                    input.text = compact.clone();
                    input.expect = Some((compact, plain));
                }
            }
            70..=79 => {
                input.key_text = Some(if rng.bool() {
                    KeyKind::Private
                } else {
                    KeyKind::Public
                });
                let base = if input.key_text == Some(KeyKind::Private) {
                    &self.private_b64
                } else {
                    &self.public_b64
                };
                input.text = if chance(rng, 50) {
                    // Edit the DER, then write it as base64 again (with line breaks now and then).
                    let mut der = STANDARD.decode(base).unwrap_or_default();
                    mutate::bytes(
                        rng,
                        &mut der,
                        &["0\u{82}", "\u{2}\u{1}\u{0}", "\u{0}"],
                        8192,
                    );
                    let b64 = STANDARD.encode(der);
                    if chance(rng, 20) {
                        b64.as_bytes()
                            .chunks(64)
                            .map(|c| String::from_utf8_lossy(c).into_owned())
                            .collect::<Vec<_>>()
                            .join("\n")
                    } else {
                        b64
                    }
                } else {
                    mutate::text(rng, base, &["=", "+", "/", "\n", " ", "-----BEGIN"], 8192)
                };
            }
            80..=89 => {
                input.text = mutate::soup(rng, &["eyJ", ".", "A", "Q", "_", "-", "="], 400);
            }
            _ => input.text = mutate::into_string(mutate::random_bytes(rng, 400)),
        }
        input
    }

    fn execute(&mut self, input: &Input) -> Verdict {
        match input.key_text {
            Some(KeyKind::Private) => {
                return match PrivateKey::from_base64_der(&input.text) {
                    Ok(key) => {
                        let _ = key.public_key_base64_der();
                        Verdict::Accepted
                    }
                    Err(_) => Verdict::Rejected,
                };
            }
            Some(KeyKind::Public) => {
                return match PublicKey::from_base64_der(&input.text) {
                    Ok(_) => Verdict::Accepted,
                    Err(_) => Verdict::Rejected,
                };
            }
            None => {}
        }
        let policy = if input.request_policy {
            IatPolicy::REQUEST
        } else {
            IatPolicy::RESPONSE
        };
        let key = if input.wrong_key {
            &self.other
        } else {
            &self.ours
        };
        match key.decrypt(&input.text, policy, input.now) {
            Ok(plain) => match &input.expect {
                Some((compact, expected)) if !input.wrong_key && input.text.trim() == compact => {
                    if plain != *expected {
                        Verdict::Violation("decrypted to another plaintext".into())
                    } else if let Some(why) = header_breaks_rules(compact, policy, input.now) {
                        Verdict::Violation(format!("opened a JWE whose header {why}"))
                    } else {
                        Verdict::Accepted
                    }
                }
                _ => Verdict::Violation("opened a JWE we did not build for this key".into()),
            },
            Err(e) => {
                let _ = e.to_string();
                Verdict::Rejected
            }
        }
    }

    fn keep(&mut self, input: Input, rng: &mut Rng) {
        if let Some(expect) = input.expect {
            keep_in(&mut self.pool, expect, rng);
        }
    }

    fn encode(input: &Input) -> Vec<u8> {
        json!({
            "text": input.text,
            "now": input.now,
            "request_policy": input.request_policy,
            "wrong_key": input.wrong_key,
            "key_text": input.key_text.map(|k| k == KeyKind::Private),
            "expect": input.expect.as_ref().map(|(c, p)| json!([c, latin1(p)])),
        })
        .to_string()
        .into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Input> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        let expect = match &v["expect"] {
            Value::Array(pair) => Some((
                pair.first()?.as_str()?.to_owned(),
                from_latin1(pair.get(1)?.as_str()?)?,
            )),
            _ => None,
        };
        Some(Input {
            text: v["text"].as_str()?.to_owned(),
            now: v["now"].as_i64()?,
            request_policy: v["request_policy"].as_bool()?,
            wrong_key: v["wrong_key"].as_bool()?,
            key_text: v["key_text"]
                .as_bool()
                .map(|p| if p { KeyKind::Private } else { KeyKind::Public }),
            expect,
        })
    }
}
