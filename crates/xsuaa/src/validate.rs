//! Validation of XSUAA access tokens with the verdicts of `@sap/xssec` 4, and the scope checks
//! on a validated [`Token`] (docs/protocols.md §XSUAA token validation).
//!
//! [`Validator::validate`] checks, in xssec 4's order, stopping at the first failure:
//!
//! 0. Decoding ([`crate::jwt::decode`]): size, three strict base64url parts, JSON objects.
//! 1. `exp`: required, a positive number. Expired when
//!    `floor((exp·1000 − now_ms) / 1000) + 60 ≤ 0`, i.e. tokens are accepted until about 60 s
//!    after `exp`.
//! 2. `nbf`: optional; if present a positive number; refused when `nbf − now > 60 s`.
//! 3. Audience: the candidates are `aud` (a string, or an array) if non-empty, else the `scope`
//!    array; then `cid` is appended. Accepted if a candidate equals the binding's `clientid` or
//!    starts with `clientid + "."`, equals `xsappname` or starts with `xsappname + "."`, or — if
//!    the binding's `clientid` contains `!b` — ends with `"|" + xsappname`.
//! 4. Signature: header `kid` required; the key set for the token's `zid` (from
//!    `https://{uaadomain}/token_keys`, never from `jku`); an unknown `kid` forces one
//!    (rate-limited) refresh; then `alg` must be RS256/384/512, PS256/384/512 or ES256/384/512
//!    (ignoring case), and the signature must verify (aws-lc-rs).
//!
//! There is deliberately no `iss`, `iat`, `azp` or zone-vs-binding check: xssec 4 does none
//! for XSUAA, and we must accept exactly the tokens an xssec app accepts.
//!
//! # Deliberate differences from @sap/xssec 4
//!
//! Where xssec is lax or fails internally (HTTP 500) on malformed input, we refuse with a 401
//! verdict and never panic:
//!
//! - A trailing extra segment (`h.p.s.x`), `=` padding, characters outside base64url and
//!   non-canonical base64 endings: [`ValidationError::Malformed`] (xssec accepts them).
//! - A two-part token, a `null` or non-object header or payload: `Malformed` (xssec: 500).
//! - Tokens over 16 KiB: [`ValidationError::Oversized`], before any decoding.
//! - `scope` given as a string: `Malformed` (xssec would substring-match `includes`).
//!   `scope`, `aud` and `cid` must have their documented JSON types.
//! - `exp`/`nbf` that are not JSON numbers (e.g. numeric strings): `Malformed`.
//! - `exp`, `nbf` or `iat` later than 9999-12-31T23:59:59Z ([`MAX_TIME_CLAIM_S`]), or an `iat`
//!   that is not a positive number: `Malformed`. xssec rejects only values beyond
//!   JavaScript's date range (year 275760), and ignores `iat`.
//! - A missing or non-string `alg`: `Malformed` (xssec: unsupported algorithm).
//! - `zid` must be a string of 1–128 characters from `[A-Za-z0-9._-]` (it goes into the JWKS
//!   URL): otherwise `Malformed`.
//! - An unknown `kid` is [`ValidationError::UnknownKid`] (xssec reports `MissingKidError` for
//!   both); the HTTP answer (401) is the same.
//! - Key checks: the key's type must fit the algorithm family (RSA for RS/PS, EC on the
//!   matching curve for ES), a key's own `alg` and `use` members must agree when present, and
//!   RSA keys must have at least 2048 bits; otherwise [`ValidationError::InvalidSignature`].
//! - Signing keys that cannot be fetched are [`ValidationError::KeysUnavailable`] (503, not
//!   the client's fault); xssec lets the error escape (500).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{self, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey};
use cfenv::XsuaaBinding;
use serde_json::{Map, Value};

use crate::error::ValidationError;
use crate::jwks::{EcCurve, Jwk, JwkKey, KeySource};
use crate::jwt::{self, Header};

/// How far past `exp` (and before `nbf`) a token is still accepted, as in xssec 4.
const LEEWAY_S: f64 = 60.0;
/// The latest instant a time claim (`exp`, `nbf`, `iat`) may name: 9999-12-31T23:59:59Z. RFC
/// 7519 §2 allows any NumericDate, but no issuer means a later one: real XSUAA issues tokens
/// for hours, and `@sap/xssec` rejects values beyond JavaScript's date range (year 275760).
/// Anything later is a malformed token, which also keeps every conversion to `SystemTime`
/// exact.
pub const MAX_TIME_CLAIM_S: f64 = 253_402_300_799.0;

/// What the validator needs from the `xsuaa` binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorConfig {
    /// The binding's OAuth client id, e.g. `sb-myapp!t12345`.
    pub clientid: String,
    /// The binding's expanded application name, e.g. `myapp!t12345`.
    pub xsappname: String,
    /// The landscape domain the signing keys come from.
    pub uaadomain: String,
}

impl ValidatorConfig {
    /// Takes `clientid`, `xsappname` and `uaadomain` from the binding.
    pub fn from_binding(binding: &XsuaaBinding) -> Self {
        Self {
            clientid: binding.clientid.clone(),
            xsappname: binding.xsappname.clone(),
            uaadomain: binding.uaadomain.clone(),
        }
    }
}

/// The current time as Unix milliseconds; injectable for tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A token signing algorithm on the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512.
    ES512,
}

impl Algorithm {
    /// The allow-listed algorithm named `name`, ignoring case (as xssec 4 does).
    pub fn from_name(name: &str) -> Option<Self> {
        const ALL: [Algorithm; 9] = [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
        ];
        ALL.into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The JOSE name, e.g. `RS256`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
        }
    }
}

/// Most verified signatures remembered by [`SignatureCache`].
const SIGNATURE_CACHE_SIZE: usize = 10_000;

/// Remembers signatures that verified, as xssec 4's signature cache does, so a token that
/// comes again (a session's token, a client's cached token) skips the RSA/ECDSA verification.
///
/// An entry is the SHA-256 of the algorithm, the key material, the signing input and the
/// signature, so it only ever stands for "this exact token verified with this exact key". It
/// is consulted after the key was looked up by `kid` in the current key set: a key that was
/// rotated out fails with `UnknownKid` as before. Every other check (exp, nbf, audience) runs
/// on every call. Bounded: when full, the oldest half is forgotten.
struct SignatureCache {
    seen: std::sync::Mutex<Seen>,
}

/// The remembered digests, as a set for lookups and in insertion order for eviction.
#[derive(Default)]
struct Seen {
    set: std::collections::HashSet<[u8; 32]>,
    order: std::collections::VecDeque<[u8; 32]>,
}

impl SignatureCache {
    fn new() -> Self {
        Self {
            seen: std::sync::Mutex::new(Default::default()),
        }
    }

    fn digest(alg: Algorithm, jwk: &Jwk, signing_input: &[u8], signature: &[u8]) -> [u8; 32] {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let mut part = |bytes: &[u8]| {
            // Length-prefixed, so no two different inputs concatenate to the same bytes.
            ctx.update(&(bytes.len() as u64).to_be_bytes());
            ctx.update(bytes);
        };
        part(alg.name().as_bytes());
        match &jwk.key {
            JwkKey::Rsa { n, e } => {
                part(n);
                part(e);
            }
            JwkKey::Ec { crv, x, y } => {
                part(crv.name().as_bytes());
                part(x);
                part(y);
            }
        }
        part(signing_input);
        part(signature);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    fn contains(&self, d: &[u8; 32]) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set
            .contains(d)
    }

    fn insert(&self, d: [u8; 32]) {
        let mut guard = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let Seen { set, order } = &mut *guard;
        if set.insert(d) {
            order.push_back(d);
        }
        if order.len() > SIGNATURE_CACHE_SIZE {
            for old in order.drain(..SIGNATURE_CACHE_SIZE / 2) {
                set.remove(&old);
            }
        }
    }
}

/// Validates bearer tokens for one application (one `xsuaa` binding).
pub struct Validator {
    config: ValidatorConfig,
    keys: Arc<dyn KeySource>,
    clock: Clock,
    verified: SignatureCache,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// A validator reading keys from `keys` and time from the system clock.
    pub fn new(config: ValidatorConfig, keys: Arc<dyn KeySource>) -> Self {
        Self {
            config,
            keys,
            clock: Arc::new(system_now_ms),
            verified: SignatureCache::new(),
        }
    }

    /// Replaces the clock (Unix milliseconds).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ValidatorConfig {
        &self.config
    }

    /// Validates `token` (the bare JWT, without `Bearer `); see the module documentation for
    /// the checks and their order.
    pub async fn validate(&self, token: &str) -> Result<Token, ValidationError> {
        let decoded = jwt::decode(token)?;
        let claims = &decoded.claims;
        let now_ms = (self.clock)() as f64;

        // 1. exp
        let exp = claims
            .get("exp")
            .ok_or(ValidationError::Malformed("exp claim missing"))
            .and_then(|exp| time_claim(exp, "exp is not a positive number"))?;
        if ((exp * 1000.0 - now_ms) / 1000.0).floor() + LEEWAY_S <= 0.0 {
            return Err(ValidationError::Expired);
        }

        // 2. nbf
        if let Some(nbf) = claims.get("nbf") {
            let nbf = time_claim(nbf, "nbf is not a positive number")?;
            if nbf * 1000.0 - now_ms > LEEWAY_S * 1000.0 {
                return Err(ValidationError::NotYetValid);
            }
        }
        // `iat` is not checked against the clock (xssec does not), only for its form.
        if let Some(iat) = claims.get("iat") {
            time_claim(iat, "iat is not a positive number")?;
        }

        // 3. audience
        let scopes = scopes(claims)?;
        if !self.accepts_audience(claims, &scopes)? {
            return Err(ValidationError::WrongAudience);
        }

        // 4. signature
        let kid = decoded
            .header
            .kid
            .as_deref()
            .ok_or(ValidationError::MissingKid)?;
        let zid = zone_id(claims)?;
        let mut keys = self.keys.keys(zid).await?;
        if keys.find(kid).is_none() {
            keys = self.keys.refresh(zid).await?;
        }
        let jwk = keys.find(kid).ok_or(ValidationError::UnknownKid)?;
        let alg = Algorithm::from_name(&decoded.header.alg)
            .ok_or_else(|| ValidationError::unsupported_alg(&decoded.header.alg))?;
        let digest = SignatureCache::digest(
            alg,
            jwk,
            decoded.signing_input.as_bytes(),
            &decoded.signature,
        );
        if !self.verified.contains(&digest) {
            verify(
                alg,
                jwk,
                decoded.signing_input.as_bytes(),
                &decoded.signature,
            )?;
            self.verified.insert(digest);
        }

        Ok(Token {
            header: decoded.header,
            claims: decoded.claims,
            scopes,
            xsappname: self.config.xsappname.clone(),
            exp,
        })
    }

    /// xssec 4's `acceptsTokenAudience`.
    fn accepts_audience(
        &self,
        claims: &Map<String, Value>,
        scopes: &[String],
    ) -> Result<bool, ValidationError> {
        let mut candidates: Vec<&str> = match claims.get("aud") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(aud)) if aud.is_empty() => Vec::new(),
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(auds)) => auds
                .iter()
                .map(|a| {
                    a.as_str()
                        .ok_or(ValidationError::Malformed("aud entries must be strings"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(ValidationError::Malformed(
                    "aud is neither a string nor an array",
                ));
            }
        };
        if candidates.is_empty() {
            candidates = scopes.iter().map(String::as_str).collect();
        }
        match claims.get("cid") {
            None | Some(Value::Null) => {}
            Some(Value::String(cid)) => candidates.push(cid),
            Some(_) => return Err(ValidationError::Malformed("cid is not a string")),
        }
        let ValidatorConfig {
            clientid,
            xsappname,
            ..
        } = &self.config;
        let broker = clientid.contains("!b");
        Ok(candidates.into_iter().any(|a| {
            prefix_match(a, clientid)
                || prefix_match(a, xsappname)
                || (broker
                    && a.strip_suffix(xsappname.as_str())
                        .is_some_and(|rest| rest.ends_with('|')))
        }))
    }
}

/// `a == id` or `a` starts with `id + "."`.
fn prefix_match(a: &str, id: &str) -> bool {
    a.strip_prefix(id)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A JSON number greater than zero (`"123"`, `null`, `true` are not).
/// A time claim: a positive JSON number no later than [`MAX_TIME_CLAIM_S`].
fn time_claim(value: &Value, wrong: &'static str) -> Result<f64, ValidationError> {
    let n = value
        .as_f64()
        .filter(|n| n.is_finite() && *n > 0.0)
        .ok_or(ValidationError::Malformed(wrong))?;
    if n > MAX_TIME_CLAIM_S {
        return Err(ValidationError::Malformed(
            "a time claim lies beyond the year 9999",
        ));
    }
    Ok(n)
}

/// The `scope` claim: absent or an array of strings.
fn scopes(claims: &Map<String, Value>) -> Result<Vec<String>, ValidationError> {
    match claims.get("scope") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or(ValidationError::Malformed("scope entries must be strings"))
            })
            .collect(),
        Some(Value::String(_)) => Err(ValidationError::Malformed(
            "scope is a string, not an array",
        )),
        Some(_) => Err(ValidationError::Malformed("scope is not an array")),
    }
}

/// The `zid` claim, checked to be a plain identifier (it goes into the JWKS URL).
fn zone_id(claims: &Map<String, Value>) -> Result<Option<&str>, ValidationError> {
    match claims.get("zid") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(zid))
            if (1..=128).contains(&zid.len())
                && zid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) =>
        {
            Ok(Some(zid))
        }
        Some(_) => Err(ValidationError::Malformed("zid is not a zone id")),
    }
}

fn verify(alg: Algorithm, jwk: &Jwk, msg: &[u8], sig: &[u8]) -> Result<(), ValidationError> {
    if jwk.key_use.as_deref().is_some_and(|u| u != "sig")
        || jwk
            .alg
            .as_deref()
            .is_some_and(|a| !a.eq_ignore_ascii_case(alg.name()))
    {
        return Err(ValidationError::InvalidSignature);
    }
    let rsa = |params: &RsaParameters| match &jwk.key {
        JwkKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }
            .verify(params, msg, sig)
            .is_ok(),
        JwkKey::Ec { .. } => false,
    };
    let ec = |curve: EcCurve, algorithm: &'static signature::EcdsaVerificationAlgorithm| match &jwk
        .key
    {
        JwkKey::Ec { crv, x, y } if *crv == curve => {
            let point = [&[4u8][..], x, y].concat();
            UnparsedPublicKey::new(algorithm, point)
                .verify(msg, sig)
                .is_ok()
        }
        _ => false,
    };
    let ok = match alg {
        Algorithm::RS256 => rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::RS384 => rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
        Algorithm::RS512 => rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
        Algorithm::PS256 => rsa(&signature::RSA_PSS_2048_8192_SHA256),
        Algorithm::PS384 => rsa(&signature::RSA_PSS_2048_8192_SHA384),
        Algorithm::PS512 => rsa(&signature::RSA_PSS_2048_8192_SHA512),
        Algorithm::ES256 => ec(EcCurve::P256, &signature::ECDSA_P256_SHA256_FIXED),
        Algorithm::ES384 => ec(EcCurve::P384, &signature::ECDSA_P384_SHA384_FIXED),
        Algorithm::ES512 => ec(EcCurve::P521, &signature::ECDSA_P521_SHA512_FIXED),
    };
    if ok {
        Ok(())
    } else {
        Err(ValidationError::InvalidSignature)
    }
}

/// A validated token: its claims and the scope checks.
///
/// Holds the decoded header and claims only, never the token text; `Debug` shows the client,
/// zone, grant type, scopes and expiry.
#[derive(Clone)]
pub struct Token {
    header: Header,
    claims: Map<String, Value>,
    scopes: Vec<String>,
    xsappname: String,
    exp: f64,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("client_id", &self.client_id())
            .field("zone_id", &self.zone_id())
            .field("grant_type", &self.grant_type())
            .field("scopes", &self.scopes)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// The JOSE header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// All claims.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// One claim.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// The fully qualified scopes (`myapp!t12345.Read`, `openid`, …).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The OAuth client the token was issued to: `cid`, else `client_id`, else `azp`.
    pub fn client_id(&self) -> Option<&str> {
        self.str_claim("cid")
            .or_else(|| self.str_claim("client_id"))
            .or_else(|| self.str_claim("azp"))
    }

    /// `user_name` (user tokens).
    pub fn user_name(&self) -> Option<&str> {
        self.str_claim("user_name")
    }

    /// `email` (user tokens).
    pub fn email(&self) -> Option<&str> {
        self.str_claim("email")
    }

    /// `zid`, the identity zone (subaccount) GUID.
    pub fn zone_id(&self) -> Option<&str> {
        self.str_claim("zid")
    }

    /// `grant_type`, e.g. `client_credentials` or `authorization_code`.
    pub fn grant_type(&self) -> Option<&str> {
        self.str_claim("grant_type")
    }

    /// When the token expires (`exp`; the 60 s leeway is not included).
    pub fn expires_at(&self) -> SystemTime {
        let secs = Duration::try_from_secs_f64(self.exp.min(MAX_TIME_CLAIM_S)).unwrap_or_default();
        UNIX_EPOCH + secs
    }

    /// True for tokens issued to a user: a `grant_type` other than `client_credentials`
    /// (`authorization_code`, `password`, `refresh_token`, jwt-bearer, …).
    pub fn is_user_token(&self) -> bool {
        self.grant_type().is_some_and(|g| g != "client_credentials")
    }

    /// True if the token has exactly this fully qualified scope (xssec `checkScope`).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// True if the token has `{xsappname}.{local}` (xssec `checkLocalScope`).
    pub fn has_local_scope(&self, local: &str) -> bool {
        self.scopes.iter().any(|s| {
            s.strip_prefix(self.xsappname.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                == Some(local)
        })
    }

    /// The application name the local scopes are qualified with.
    pub fn xsappname(&self) -> &str {
        &self.xsappname
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_ignore_case() {
        assert_eq!(Algorithm::from_name("rs256"), Some(Algorithm::RS256));
        assert_eq!(Algorithm::from_name("Es512"), Some(Algorithm::ES512));
        for bad in ["none", "HS256", "", "RS256 ", "EdDSA"] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn prefix_match_needs_a_dot() {
        assert!(prefix_match("myapp!t1", "myapp!t1"));
        assert!(prefix_match("myapp!t1.Read", "myapp!t1"));
        assert!(!prefix_match("myapp!t12.Read", "myapp!t1"));
        assert!(!prefix_match("myapp!t", "myapp!t1"));
    }

    #[test]
    fn zone_ids_are_plain_identifiers() {
        let claims = |zid: Value| {
            let mut m = Map::new();
            m.insert("zid".into(), zid);
            m
        };
        assert_eq!(
            zone_id(&claims("a1b2-c3.d_4".into())).ok().flatten(),
            Some("a1b2-c3.d_4")
        );
        for bad in [
            Value::from("a&b=c"),
            Value::from(""),
            Value::from("x".repeat(129)),
            Value::from(7),
        ] {
            assert!(zone_id(&claims(bad)).is_err());
        }
    }
}
