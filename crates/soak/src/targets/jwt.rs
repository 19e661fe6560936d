//! `jwt`: [`xsuaa::jwt::decode`] on compact JWS strings: mutated seeds, tokens assembled from
//! mutated headers and claims, odd base64 spellings, tokens at the 16 KiB limit, junk.
//!
//! Properties: `Ok` only for exactly three parts within [`MAX_TOKEN_LEN`], with the signing
//! input the text before the last dot; `Oversized` exactly when the token is longer than the
//! limit; nothing but `Malformed` otherwise.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use fastrand::Rng;
use serde_json::Value;
use xsuaa::error::ValidationError;
use xsuaa::jwt::{MAX_TOKEN_LEN, decode};

use super::jose::{self, DICT, b64};
use super::keep_in;
use crate::harness::{Target, Verdict};
use crate::mutate::{self, Json, chance, pick};

const ALPHABET: &[&str] = &[
    "A", "Q", "g", "w", "z", "0", "9", "_", "-", ".", "e", "y", "J", "=", "+", "/",
];

/// The `jwt` target.
pub(crate) struct Jwt {
    headers: Vec<Value>,
    claims: Vec<Value>,
    seeds: Vec<String>,
    pool: Vec<String>,
}

impl Jwt {
    pub(crate) fn new() -> Self {
        let headers = vec![
            jose::header("RS256", "rsa-1"),
            jose::header("ES512", "ec-521"),
            serde_json::json!({"alg": "none"}),
        ];
        let claims = jose::claim_sets();
        let seeds = headers
            .iter()
            .zip(claims.iter().cycle())
            .map(|(h, c)| {
                format!(
                    "{}.{}.{}",
                    b64(h.to_string()),
                    b64(c.to_string()),
                    b64([7u8; 64])
                )
            })
            .collect();
        Self {
            headers,
            claims,
            seeds,
            pool: Vec::new(),
        }
    }

    fn assemble(&self, rng: &mut Rng) -> String {
        let json = Json {
            keys: jose::KEYS,
            strings: jose::STRINGS,
        };
        let mut header = pick(rng, &self.headers).clone();
        let mut claims = pick(rng, &self.claims).clone();
        if chance(rng, 70) {
            json.mutate(rng, &mut header, false);
        }
        if chance(rng, 70) {
            json.mutate(rng, &mut claims, false);
        }
        let header = match rng.u8(..20) {
            0 => (*pick(rng, &["null", "[]", "\"x\"", "{", "1", ""])).to_owned(),
            1 => {
                let depth = 100 + rng.usize(..100);
                mutate::deep_json(rng, depth)
            }
            _ => json.write(rng, &header, DICT, 4096),
        };
        let claims = match rng.u8(..20) {
            0 => {
                let depth = 100 + rng.usize(..100);
                mutate::deep_json(rng, depth)
            }
            _ => json.write(rng, &claims, DICT, 8192),
        };
        let signature = mutate::random_bytes(rng, 600);
        let encode = |rng: &mut Rng, part: &[u8]| match rng.u8(..20) {
            0 => STANDARD.encode(part),
            1 => URL_SAFE.encode(part),
            _ => b64(part),
        };
        let mut parts = vec![
            encode(rng, header.as_bytes()),
            encode(rng, claims.as_bytes()),
            encode(rng, &signature),
        ];
        match rng.u8(..20) {
            0 => parts.push(b64("x")),
            1 => {
                parts.pop();
            }
            2 => parts[2].clear(),
            _ => {}
        }
        parts.join(".")
    }

    /// A token whose length is within a few bytes of the limit.
    fn at_the_limit(&self, rng: &mut Rng) -> String {
        let base = pick(rng, &self.seeds).clone();
        let target = MAX_TOKEN_LEN - 3 + rng.usize(..7);
        let (head, _) = base.rsplit_once('.').unwrap_or((&base, ""));
        let mut token = format!("{head}.");
        while token.len() < target {
            token.push(*pick(rng, &['A', 'Q', 'w', '_']));
        }
        token
    }
}

impl Target for Jwt {
    type Input = String;
    const NAME: &'static str = "jwt";

    fn generate(&mut self, rng: &mut Rng) -> String {
        match rng.u8(..100) {
            0..=7 => mutate::into_string(mutate::random_bytes(rng, 300)),
            8..=17 => mutate::soup(rng, ALPHABET, 200),
            18..=52 => {
                let base = if !self.pool.is_empty() && chance(rng, 50) {
                    pick(rng, &self.pool)
                } else {
                    pick(rng, &self.seeds)
                };
                mutate::text(rng, base, DICT, MAX_TOKEN_LEN + 64)
            }
            53..=94 => self.assemble(rng),
            _ => self.at_the_limit(rng),
        }
    }

    fn execute(&mut self, token: &String) -> Verdict {
        match decode(token) {
            Ok(decoded) => {
                let _ = format!("{decoded:?}");
                let signing_input = token.rsplit_once('.').map(|(si, _)| si);
                if token.len() > MAX_TOKEN_LEN {
                    Verdict::Violation(format!("accepted {} bytes", token.len()))
                } else if token.split('.').count() != 3 {
                    Verdict::Violation("accepted a token without exactly three parts".into())
                } else if signing_input != Some(decoded.signing_input.as_str()) {
                    Verdict::Violation(
                        "the signing input is not the text before the last dot".into(),
                    )
                } else {
                    Verdict::Accepted
                }
            }
            Err(ValidationError::Oversized) if token.len() > MAX_TOKEN_LEN => Verdict::Rejected,
            Err(ValidationError::Malformed(_)) if token.len() <= MAX_TOKEN_LEN => Verdict::Rejected,
            Err(e) => Verdict::Violation(format!("{} bytes refused with {e:?}", token.len())),
        }
    }

    fn keep(&mut self, token: String, rng: &mut Rng) {
        keep_in(&mut self.pool, token, rng);
    }

    fn encode(token: &String) -> Vec<u8> {
        token.as_bytes().to_vec()
    }

    fn decode(bytes: &[u8]) -> Option<String> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}
