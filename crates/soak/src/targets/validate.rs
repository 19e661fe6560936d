//! `validate`: the whole [`Validator::validate`] path (decode, `exp`, `nbf`, audience, `kid`,
//! key lookup, algorithm, signature, the signature cache) with an in-memory [`KeySource`], and
//! [`JwkSet::from_json`] on mutated key sets.
//!
//! Inputs: seed tokens signed with real keys (RSA, P-256, P-384, P-521) as they are, on
//! clocks around their `exp`/`nbf` boundaries; mutated seeds; tokens minted per execution
//! from mutated claims and headers and signed with the P-256 key (so the claim checks see
//! validly signed garbage), a wrong key or garbage; parts spliced across tokens; junk. The key
//! source serves the real key set, fails, serves an empty set, or serves a set parsed from a
//! mutated JWKS document; the binding is a normal or a broker one.
//!
//! Properties: `Ok` only for a signing input we signed with the key whose `kid` the token
//! names (with a mutated key set: only one we signed), and only before `exp` + 60 s; every
//! error is a client error (401) unless the key source failed; an accepted token's accessors
//! work.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaEncoding};
use fastrand::Rng;
use serde_json::{Value, json};
use xsuaa::error::ValidationError;
use xsuaa::jwks::{EcCurve, Jwk, JwkSet, KeySource};
use xsuaa::validate::{Validator, ValidatorConfig};

use super::jose::{
    self, BROKER_CLIENTID, CLIENTID, DICT, NOW_MS, NOW_S, UAADOMAIN, XSAPPNAME, b64,
};
use super::{from_latin1, keep_in, latin1};
use crate::harness::{Target, Verdict};
use crate::mutate::{self, Json, chance, pick};

/// Where the key source's answer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// The real key set.
    Real,
    /// `KeysUnavailable`, as when XSUAA cannot be reached.
    Unavailable,
    /// An empty set.
    Empty,
    /// The set parsed from the input's JWKS document (an empty one if it does not parse).
    Document,
}

impl Keys {
    const ALL: [Keys; 4] = [Keys::Real, Keys::Unavailable, Keys::Empty, Keys::Document];

    fn index(self) -> usize {
        match self {
            Keys::Real => 0,
            Keys::Unavailable => 1,
            Keys::Empty => 2,
            Keys::Document => 3,
        }
    }
}

/// One execution's input.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    token: String,
    now_ms: i64,
    keys: Keys,
    broker: bool,
    jwks: Option<Vec<u8>>,
    /// The signing input of a token minted by the soak (in this execution, or earlier for a
    /// token from the pool) and the `kid` of the key that signed it.
    signed: Option<(String, String)>,
}

/// A key source that answers from memory, at once.
struct Fixed(Result<Arc<JwkSet>, ValidationError>);

#[async_trait]
impl KeySource for Fixed {
    async fn keys(&self, _zid: Option<&str>) -> Result<Arc<JwkSet>, ValidationError> {
        self.0.clone()
    }

    async fn refresh(&self, _zid: Option<&str>) -> Result<Arc<JwkSet>, ValidationError> {
        self.0.clone()
    }
}

/// The signing keys; the public halves are in [`Validate::jwks`].
struct Signers {
    rsa: RsaKeyPair,
    ec256: EcdsaKeyPair,
    ec384: EcdsaKeyPair,
    ec521: EcdsaKeyPair,
    /// Not in the key set: signatures by it never verify.
    stranger: EcdsaKeyPair,
}

impl Signers {
    /// The fixed keys of `crates/soak/keys/` (made with `openssl genpkey`, for the soak only),
    /// so that a saved input replays against the keys it was signed with.
    fn new() -> Self {
        let ec = |alg, der: &[u8]| EcdsaKeyPair::from_pkcs8(alg, der).expect("a soak EC key");
        Self {
            rsa: RsaKeyPair::from_pkcs8(include_bytes!("../../keys/rsa-validate.pk8"))
                .expect("the soak RSA key"),
            ec256: ec(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                include_bytes!("../../keys/p256.pk8"),
            ),
            ec384: ec(
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                include_bytes!("../../keys/p384.pk8"),
            ),
            ec521: ec(
                &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
                include_bytes!("../../keys/p521.pk8"),
            ),
            stranger: ec(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                include_bytes!("../../keys/p256-stranger.pk8"),
            ),
        }
    }

    fn rsa(&self, encoding: &'static dyn RsaEncoding, msg: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.rsa.public_modulus_len()];
        self.rsa
            .sign(encoding, &SystemRandom::new(), msg, &mut sig)
            .expect("RSA signing");
        sig
    }

    fn ec(key: &EcdsaKeyPair, msg: &[u8]) -> Vec<u8> {
        key.sign(&SystemRandom::new(), msg)
            .expect("ECDSA signing")
            .as_ref()
            .to_vec()
    }

    /// The JWKS document: `rsa-1` (no `alg`, `n` with a leading zero byte as XSUAA sends it),
    /// `rsa-rs` (the same key, `alg: RS256`), one EC key per curve, and two P-256 keys that
    /// must never verify: `ec-enc` (`use: enc`) and `ec-rs` (`alg: RS256`).
    fn jwks(&self) -> Value {
        let public = self.rsa.public_key();
        let mut n = public.modulus().big_endian_without_leading_zero().to_vec();
        n.insert(0, 0);
        let e = b64(public.exponent().big_endian_without_leading_zero());
        let rsa = |kid: &str| json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&n), "e": e});
        let mut rsa_rs = rsa("rsa-rs");
        rsa_rs["alg"] = "RS256".into();
        let ec = |kp: &EcdsaKeyPair, kid: &str, crv, alg: &str| {
            let jwk = Jwk::ec_from_point(kid, crv, kp.public_key().as_ref())
                .expect("a point on the curve")
                .with_alg(alg);
            serde_json::to_value(jwk).unwrap_or_default()
        };
        let mut enc = ec(&self.ec256, "ec-enc", EcCurve::P256, "ES256");
        enc["use"] = "enc".into();
        json!({"keys": [
            rsa("rsa-1"),
            rsa_rs,
            ec(&self.ec256, "ec-256", EcCurve::P256, "ES256"),
            ec(&self.ec384, "ec-384", EcCurve::P384, "ES384"),
            ec(&self.ec521, "ec-521", EcCurve::P521, "ES512"),
            enc,
            ec(&self.ec256, "ec-rs", EcCurve::P256, "RS256"),
        ]})
    }
}

/// Runs a future that never waits (the key source answers at once).
fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// The `validate` target.
pub(crate) struct Validate {
    signers: Signers,
    jwks: Value,
    clock: Arc<AtomicI64>,
    /// Validators over the fixed key sources, indexed by `[Keys::index][broker]`.
    validators: Vec<[Validator; 2]>,
    /// Seed tokens and the claims they carry.
    seeds: Vec<String>,
    claims: Vec<Value>,
    /// Signing input of every seed → the `kid` it must verify with under the real key set
    /// (`None`: it must not verify there, e.g. a key with `use: enc`).
    trusted: HashMap<String, Option<String>>,
    /// Accepted tokens, with what a freshly minted one was signed as (see [`Input::signed`]).
    pool: Vec<(String, Option<(String, String)>)>,
}

impl Validate {
    pub(crate) fn new() -> Self {
        let signers = Signers::new();
        let jwks = signers.jwks();
        let set = Arc::new(
            JwkSet::from_json(jwks.to_string().as_bytes()).expect("the seed key set parses"),
        );
        let clock = Arc::new(AtomicI64::new(NOW_MS));
        let validators = Keys::ALL
            .iter()
            .map(|keys| {
                let source = match keys {
                    Keys::Real => Ok(set.clone()),
                    Keys::Unavailable => Err(ValidationError::KeysUnavailable(
                        "the soak's key source is down".into(),
                    )),
                    Keys::Empty | Keys::Document => Ok(Arc::new(JwkSet::default())),
                };
                let source: Arc<dyn KeySource> = Arc::new(Fixed(source));
                [false, true].map(|broker| validator(broker, source.clone(), &clock))
            })
            .collect();
        let mut this = Self {
            signers,
            jwks,
            clock,
            validators,
            seeds: Vec::new(),
            claims: jose::claim_sets(),
            trusted: HashMap::new(),
            pool: Vec::new(),
        };
        this.mint_seeds();
        this
    }

    fn mint_seeds(&mut self) {
        // (alg, kid, whether the key set allows the algorithm for that key)
        let algs = [
            ("RS256", "rsa-1", true),
            ("PS384", "rsa-1", true),
            ("RS512", "rsa-rs", false),
            ("ES256", "ec-256", true),
            ("es256", "ec-256", true),
            ("ES384", "ec-384", true),
            ("ES512", "ec-521", true),
            ("ES256", "ec-enc", false),
            ("ES256", "ec-rs", false),
        ];
        let claims = self.claims.clone();
        for (i, (alg, kid, allowed)) in algs.iter().enumerate() {
            for (j, c) in claims.iter().enumerate() {
                // Every claim set with P-256; the slower keys with the first claim set only.
                if j > 0 && !alg.eq_ignore_ascii_case("ES256") {
                    continue;
                }
                let (token, signing_input) = self.sign(&jose::header(alg, kid), c, kid);
                if i == 0 && j == 0 {
                    // The same token without a kid, and with an unknown one.
                    let mut no_kid = jose::header(alg, kid);
                    no_kid.as_object_mut().map(|h| h.remove("kid"));
                    for header in [no_kid, jose::header(alg, "unknown-kid")] {
                        let (token, signing_input) = self.sign(&header, c, kid);
                        self.trusted.insert(signing_input, None);
                        self.seeds.push(token);
                    }
                }
                self.trusted
                    .insert(signing_input, allowed.then(|| (*kid).to_owned()));
                self.seeds.push(token);
            }
        }
    }

    /// Signs `header.claims` with the key published as `kid`, by the header's `alg`.
    fn sign(&self, header: &Value, claims: &Value, kid: &str) -> (String, String) {
        let signing_input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let msg = signing_input.as_bytes();
        let alg = header["alg"].as_str().unwrap_or("").to_ascii_uppercase();
        let s = &self.signers;
        let sig = match (alg.as_str(), kid) {
            ("RS256", _) => s.rsa(&signature::RSA_PKCS1_SHA256, msg),
            ("RS512", _) => s.rsa(&signature::RSA_PKCS1_SHA512, msg),
            ("PS384", _) => s.rsa(&signature::RSA_PSS_SHA384, msg),
            ("ES384", _) => Signers::ec(&s.ec384, msg),
            ("ES512", _) => Signers::ec(&s.ec521, msg),
            _ => Signers::ec(&s.ec256, msg),
        };
        (format!("{signing_input}.{}", b64(sig)), signing_input)
    }

    /// A token minted now from mutated claims (and sometimes a mutated header).
    fn mint(&self, rng: &mut Rng) -> (String, Option<(String, String)>) {
        let json = Json {
            keys: jose::KEYS,
            strings: jose::STRINGS,
        };
        let mut claims = pick(rng, &self.claims).clone();
        if chance(rng, 90) {
            json.mutate(rng, &mut claims, false);
        }
        let mut header = jose::header("ES256", "ec-256");
        if chance(rng, 25) {
            json.mutate(rng, &mut header, false);
        }
        let header_text = json.write(rng, &header, DICT, 2048);
        let claims_text = json.write(rng, &claims, DICT, 8192);
        let signing_input = format!("{}.{}", b64(&header_text), b64(&claims_text));
        let msg = signing_input.as_bytes();
        let (sig, signed) = match rng.u8(..20) {
            0 => (Signers::ec(&self.signers.stranger, msg), None),
            1 => (mutate::random_bytes(rng, 140), None),
            2 => (Vec::new(), None),
            _ => (
                Signers::ec(&self.signers.ec256, msg),
                Some((signing_input.clone(), "ec-256".to_owned())),
            ),
        };
        (format!("{signing_input}.{}", b64(sig)), signed)
    }

    /// A token from the parts of two others.
    fn splice(&self, rng: &mut Rng) -> String {
        let a: Vec<&str> = pick(rng, &self.seeds).split('.').collect();
        let b: Vec<&str> = pick(rng, &self.seeds).split('.').collect();
        let part = |rng: &mut Rng, i: usize| {
            let from = if rng.bool() { &a } else { &b };
            from.get(i).copied().unwrap_or("")
        };
        let parts = [part(rng, 0), part(rng, 1), part(rng, 2)];
        parts.join(".")
    }

    fn clock(&self, rng: &mut Rng) -> i64 {
        match rng.u8(..100) {
            0..=79 => NOW_MS + rng.i64(-5_000..5_000),
            80..=94 => {
                // Around the `exp` + 60 s and `nbf` − 60 s boundaries of the seeds.
                let edge = *pick(rng, &[3600, 1800, 600, 90, 30]);
                let sign = if rng.bool() { 60 } else { -60 };
                (NOW_S + edge + sign) * 1000 + rng.i64(-1_001..=1_001)
            }
            _ => *pick(
                rng,
                &[
                    0,
                    -1,
                    1,
                    i64::MIN,
                    i64::MAX,
                    4_102_444_800_000,
                    NOW_S,
                    -NOW_MS,
                ],
            ),
        }
    }
}

fn validator(broker: bool, keys: Arc<dyn KeySource>, clock: &Arc<AtomicI64>) -> Validator {
    let config = ValidatorConfig {
        clientid: if broker { BROKER_CLIENTID } else { CLIENTID }.to_owned(),
        xsappname: XSAPPNAME.to_owned(),
        uaadomain: UAADOMAIN.to_owned(),
    };
    let clock = clock.clone();
    Validator::new(config, keys).with_clock(Arc::new(move || clock.load(Ordering::Relaxed)))
}

impl Target for Validate {
    type Input = Input;
    const NAME: &'static str = "validate";

    fn generate(&mut self, rng: &mut Rng) -> Input {
        let mut signed = None;
        let token = match rng.u8(..100) {
            0..=29 => pick(rng, &self.seeds).clone(),
            30..=59 => {
                let base = if !self.pool.is_empty() && chance(rng, 30) {
                    let (token, s) = pick(rng, &self.pool).clone();
                    signed = s;
                    token
                } else {
                    pick(rng, &self.seeds).clone()
                };
                mutate::text(rng, &base, DICT, 17_000)
            }
            60..=84 => {
                let (token, s) = self.mint(rng);
                signed = s;
                token
            }
            85..=94 => self.splice(rng),
            _ => mutate::into_string(mutate::random_bytes(rng, 400)),
        };
        let keys = match rng.u8(..100) {
            0..=87 => Keys::Real,
            88..=91 => Keys::Unavailable,
            92..=94 => Keys::Empty,
            _ => Keys::Document,
        };
        let jwks = (keys == Keys::Document).then(|| {
            if chance(rng, 10) {
                mutate::random_bytes(rng, 200)
            } else {
                let json = Json {
                    keys: &[
                        "keys", "kty", "kid", "alg", "use", "n", "e", "crv", "x", "y", "value",
                    ],
                    strings: &[
                        "RSA", "EC", "P-256", "P-384", "P-521", "sig", "enc", "AQAB", "AA", "",
                    ],
                };
                let mut doc = self.jwks.clone();
                json.mutate(rng, &mut doc, false);
                json.write(rng, &doc, &["\"keys\":", "AA"], 65_536)
                    .into_bytes()
            }
        });
        Input {
            token,
            now_ms: self.clock(rng),
            keys,
            broker: chance(rng, 20),
            jwks,
            signed,
        }
    }

    fn execute(&mut self, input: &Input) -> Verdict {
        self.clock.store(input.now_ms, Ordering::Relaxed);
        let document_validator;
        let validator = match (input.keys, &input.jwks) {
            (Keys::Document, Some(jwks)) => {
                let set = JwkSet::from_json(jwks).unwrap_or_default();
                document_validator = validator(
                    input.broker,
                    Arc::new(Fixed(Ok(Arc::new(set)))),
                    &self.clock,
                );
                &document_validator
            }
            (keys, _) => &self.validators[keys.index()][usize::from(input.broker)],
        };
        let Some(outcome) = now_or_never(validator.validate(&input.token)) else {
            return Verdict::Violation("validate waited on an in-memory key source".into());
        };
        match outcome {
            Ok(token) => {
                let signing_input = input.token.rsplit_once('.').map_or("", |(si, _)| si);
                let kid = token.header().kid.clone().unwrap_or_default();
                let ours = match input.keys {
                    Keys::Document => {
                        self.trusted.contains_key(signing_input)
                            || input
                                .signed
                                .as_ref()
                                .is_some_and(|(si, _)| si == signing_input)
                    }
                    _ => {
                        self.trusted.get(signing_input) == Some(&Some(kid.clone()))
                            || input
                                .signed
                                .as_ref()
                                .is_some_and(|(si, k)| si == signing_input && *k == kid)
                    }
                };
                if !ours {
                    return Verdict::Violation(format!(
                        "accepted a token we did not sign with the key {kid:?}"
                    ));
                }
                let exp = token.claim("exp").and_then(Value::as_f64).unwrap_or(0.0);
                #[allow(clippy::cast_precision_loss)]
                let now = input.now_ms as f64;
                if ((exp * 1000.0 - now) / 1000.0).floor() + 60.0 <= 0.0 {
                    return Verdict::Violation("accepted an expired token".into());
                }
                let _ = (
                    token.scopes(),
                    token.client_id(),
                    token.user_name(),
                    token.email(),
                    token.zone_id(),
                    token.grant_type(),
                    token.expires_at(),
                    token.is_user_token(),
                    token.has_scope("myapp!t12345.Read"),
                    token.has_local_scope("JobRunner"),
                    token.xsappname(),
                    format!("{token:?}"),
                );
                Verdict::Accepted
            }
            Err(e) => {
                let _ = (e.oauth_error_description(), e.to_string());
                if e.is_client_error() || input.keys == Keys::Unavailable {
                    Verdict::Rejected
                } else {
                    Verdict::Violation(format!("not a client error: {e:?}"))
                }
            }
        }
    }

    fn keep(&mut self, input: Input, rng: &mut Rng) {
        keep_in(&mut self.pool, (input.token, input.signed), rng);
    }

    fn encode(input: &Input) -> Vec<u8> {
        json!({
            "token": input.token,
            "now_ms": input.now_ms,
            "keys": input.keys.index(),
            "broker": input.broker,
            "jwks": input.jwks.as_deref().map(latin1),
            "signed": input.signed,
        })
        .to_string()
        .into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Input> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        let keys = *Keys::ALL.get(usize::try_from(v["keys"].as_u64()?).ok()?)?;
        let signed = match &v["signed"] {
            Value::Array(pair) => Some((
                pair.first()?.as_str()?.to_owned(),
                pair.get(1)?.as_str()?.to_owned(),
            )),
            _ => None,
        };
        Some(Input {
            token: v["token"].as_str()?.to_owned(),
            now_ms: v["now_ms"].as_i64()?,
            keys,
            broker: v["broker"].as_bool()?,
            jwks: match v["jwks"].as_str() {
                Some(s) => Some(from_latin1(s)?),
                None => None,
            },
            signed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_signed_for_real_keys_validate() {
        let mut target = Validate::new();
        let mut accepted = 0;
        for token in target.seeds.clone() {
            let input = Input {
                token,
                now_ms: NOW_MS,
                keys: Keys::Real,
                broker: false,
                jwks: None,
                signed: None,
            };
            match target.execute(&input) {
                Verdict::Accepted => accepted += 1,
                Verdict::Rejected => {}
                Verdict::Violation(m) => panic!("{m}"),
            }
        }
        // The seeds with kid, signed with an allowed key, and not before `nbf` nor from the broker.
        assert!(accepted >= 8, "{accepted} of {}", target.seeds.len());
    }
}
