//! XSUAA's token signing keys: the JWK types, the [`KeySource`] seam the validator reads keys
//! through, and [`JwksCache`], the production source (docs/protocols.md §XSUAA signing keys).
//!
//! - [`Jwk`] / [`JwkSet`]: RSA (`n`, `e`) and EC (`crv`, `x`, `y`) public keys. A leading zero
//!   byte in `n` (real XSUAA sends `AL…`) is tolerated; the PEM `value` member is ignored.
//!   Keys of other types, or with unusable material, are skipped rather than failing the set.
//! - [`KeySource`]: what [`crate::validate::Validator`] needs: the set for a zone, and a forced
//!   refresh when a `kid` is unknown. Tests put an in-memory source here.
//! - [`JwksFetcher`]: one HTTP round trip; [`HttpJwksFetcher`] does
//!   `GET https://{uaadomain}/token_keys?zid={zid}`. The URL comes from the binding's
//!   `uaadomain`, **never** from the token's `jku`.
//! - [`JwksCache`]: a [`KeySource`] over any fetcher, per zone id:
//!   - a set is fresh for [`JwksOptions::fresh_for`] (15 min, like xssec), then refetched;
//!   - concurrent callers share one fetch (single flight: the zone's lock is held across it);
//!   - a forced refresh (unknown `kid`) fetches at most once per
//!     [`JwksOptions::min_refetch_interval`] (30 s) per zone, so tokens with random kids
//!     cannot make us hammer XSUAA;
//!   - when a fetch fails and a set is cached (at most `fresh_for + serve_stale_for` old), the
//!     cached set keeps being served with a warning, and the next attempt waits for
//!     `min_refetch_interval`;
//!   - the zone id comes from the (unverified) token, so zones are bounded: at most
//!     [`JwksOptions::max_zones`] are remembered, and fetches for zones with no cached set
//!     are limited to [`JwksOptions::max_new_zone_fetches`] per `min_refetch_interval`;
//!     beyond that a token naming a new zone is refused as
//!     [`ValidationError::ZoneNotAdmitted`] (401: the zone is the unverified token's claim).
//!
//! Time is `tokio::time`, so tests run the cache under a paused clock.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde::ser::SerializeMap;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use crate::client::{host_of, http_client};
use crate::error::ValidationError;

/// Largest JWKS document we read.
const MAX_JWKS_BODY: usize = 1 << 20;

/// An elliptic curve of an EC key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcCurve {
    /// `P-256`, for ES256.
    P256,
    /// `P-384`, for ES384.
    P384,
    /// `P-521`, for ES512.
    P521,
}

impl EcCurve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// Bytes of one coordinate.
    pub fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "P-256" => Some(Self::P256),
            "P-384" => Some(Self::P384),
            "P-521" => Some(Self::P521),
            _ => None,
        }
    }
}

/// The key material of a [`Jwk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwkKey {
    /// `kty: RSA`.
    Rsa {
        /// Modulus, big-endian, without leading zero bytes.
        n: Vec<u8>,
        /// Public exponent, big-endian, without leading zero bytes.
        e: Vec<u8>,
    },
    /// `kty: EC`.
    Ec {
        /// Curve.
        crv: EcCurve,
        /// X coordinate, big-endian, exactly [`EcCurve::coordinate_len`] bytes.
        x: Vec<u8>,
        /// Y coordinate, big-endian, exactly [`EcCurve::coordinate_len`] bytes.
        y: Vec<u8>,
    },
}

/// One public key of a JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// `kid`; the validator looks keys up by it.
    pub kid: Option<String>,
    /// `alg`, if the key names the one algorithm it is for.
    pub alg: Option<String>,
    /// `use`, usually `sig`.
    pub key_use: Option<String>,
    /// The key.
    pub key: JwkKey,
}

impl Jwk {
    /// An RSA key. Leading zero bytes of `n` and `e` are dropped.
    pub fn rsa(kid: impl Into<String>, n: &[u8], e: &[u8]) -> Self {
        Self {
            kid: Some(kid.into()),
            alg: None,
            key_use: Some("sig".into()),
            key: JwkKey::Rsa {
                n: strip_zeros(n).to_vec(),
                e: strip_zeros(e).to_vec(),
            },
        }
    }

    /// An EC key from its uncompressed SEC1 point (`04 || x || y`), as
    /// `aws_lc_rs::signature::EcdsaKeyPair::public_key` gives it. `None` if the point does not
    /// fit the curve.
    pub fn ec_from_point(kid: impl Into<String>, crv: EcCurve, point: &[u8]) -> Option<Self> {
        let len = crv.coordinate_len();
        if point.len() != 1 + 2 * len || point[0] != 4 {
            return None;
        }
        Some(Self {
            kid: Some(kid.into()),
            alg: None,
            key_use: Some("sig".into()),
            key: JwkKey::Ec {
                crv,
                x: point[1..=len].to_vec(),
                y: point[1 + len..].to_vec(),
            },
        })
    }

    /// Sets `alg`.
    pub fn with_alg(mut self, alg: impl Into<String>) -> Self {
        self.alg = Some(alg.into());
        self
    }

    /// Parses one JWK object. `Err` names what is unusable (our wording).
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        let obj = value.as_object().ok_or("key is not a JSON object")?;
        let text = |name: &str| -> Result<Option<String>, &'static str> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err("a key member is not a string"),
            }
        };
        let bytes = |name: &str| -> Result<Vec<u8>, &'static str> {
            let s = text(name)?.ok_or("key material missing")?;
            URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .map_err(|_| "key material is not base64url")
        };
        let key = match text("kty")?.as_deref() {
            Some("RSA") => {
                let n = bytes("n")?;
                let e = bytes("e")?;
                let (n, e) = (strip_zeros(&n), strip_zeros(&e));
                if n.is_empty() || e.is_empty() {
                    return Err("RSA key with zero n or e");
                }
                JwkKey::Rsa {
                    n: n.to_vec(),
                    e: e.to_vec(),
                }
            }
            Some("EC") => {
                let crv = text("crv")?
                    .as_deref()
                    .and_then(EcCurve::from_name)
                    .ok_or("EC key on an unsupported curve")?;
                JwkKey::Ec {
                    crv,
                    x: coordinate(&bytes("x")?, crv)?,
                    y: coordinate(&bytes("y")?, crv)?,
                }
            }
            _ => return Err("unsupported key type"),
        };
        Ok(Self {
            kid: text("kid")?,
            alg: text("alg")?,
            key_use: text("use")?,
            key,
        })
    }
}

impl serde::Serialize for Jwk {
    /// Writes the standard JWK members (`kty`, `kid`, `alg`, `use`, `n`/`e` or
    /// `crv`/`x`/`y`), base64url without padding.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match &self.key {
            JwkKey::Rsa { .. } => map.serialize_entry("kty", "RSA")?,
            JwkKey::Ec { .. } => map.serialize_entry("kty", "EC")?,
        }
        if let Some(kid) = &self.kid {
            map.serialize_entry("kid", kid)?;
        }
        if let Some(alg) = &self.alg {
            map.serialize_entry("alg", alg)?;
        }
        if let Some(key_use) = &self.key_use {
            map.serialize_entry("use", key_use)?;
        }
        match &self.key {
            JwkKey::Rsa { n, e } => {
                map.serialize_entry("n", &URL_SAFE_NO_PAD.encode(n))?;
                map.serialize_entry("e", &URL_SAFE_NO_PAD.encode(e))?;
            }
            JwkKey::Ec { crv, x, y } => {
                map.serialize_entry("crv", crv.name())?;
                map.serialize_entry("x", &URL_SAFE_NO_PAD.encode(x))?;
                map.serialize_entry("y", &URL_SAFE_NO_PAD.encode(y))?;
            }
        }
        map.end()
    }
}

/// A JSON Web Key Set, `{"keys":[…]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct JwkSet {
    /// The usable keys, in document order.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Parses a JWKS document. Keys that are not usable RSA or EC signing keys are skipped
    /// (and logged at debug); the document itself must be an object with a `keys` array.
    pub fn from_json(bytes: &[u8]) -> Result<Self, &'static str> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|_| "JWKS is not JSON")?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("JWKS has no keys array")?;
        let mut out = Vec::with_capacity(keys.len());
        for (index, key) in keys.iter().enumerate() {
            match Jwk::from_value(key) {
                Ok(jwk) => out.push(jwk),
                Err(reason) => tracing::debug!(jwk.index = index, reason, "skipping JWK"),
            }
        }
        Ok(Self { keys: out })
    }

    /// The first key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

impl<'de> serde::Deserialize<'de> for JwkSet {
    /// Same rules as [`JwkSet::from_json`].
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let bytes = serde_json::to_vec(&value).map_err(serde::de::Error::custom)?;
        Self::from_json(&bytes).map_err(serde::de::Error::custom)
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// A coordinate at exactly the curve's length: shorter values are left-padded (some encoders
/// drop leading zeros), longer ones are refused unless the excess is zeros.
fn coordinate(bytes: &[u8], crv: EcCurve) -> Result<Vec<u8>, &'static str> {
    let len = crv.coordinate_len();
    let value = strip_zeros(bytes);
    if value.len() > len {
        return Err("EC coordinate longer than the curve allows");
    }
    let mut out = vec![0; len - value.len()];
    out.extend_from_slice(value);
    Ok(out)
}

/// Where the validator gets signing keys from.
///
/// Object-safe (`Arc<dyn KeySource>`). Implementations decide about caching; [`JwksCache`] is
/// the production one.
#[async_trait]
pub trait KeySource: Send + Sync {
    /// The key set for the token's zone (`zid` claim; `None` if the token has none).
    async fn keys(&self, zid: Option<&str>) -> Result<Arc<JwkSet>, ValidationError>;

    /// Called when a token's `kid` is not in the set from [`KeySource::keys`]: fetch again if
    /// allowed (a cache may rate-limit this and return what it has).
    async fn refresh(&self, zid: Option<&str>) -> Result<Arc<JwkSet>, ValidationError>;
}

/// One fetch of a zone's key set, without caching. The seam under [`JwksCache`].
#[async_trait]
pub trait JwksFetcher: Send + Sync {
    /// Fetches the key set for `zid`. A refusal that means "not a token for us" may be
    /// [`ValidationError::WrongAudience`] (xssec maps a 400 from `/token_keys` so); everything
    /// else is [`ValidationError::KeysUnavailable`].
    async fn fetch(&self, zid: Option<&str>) -> Result<JwkSet, ValidationError>;
}

/// Fetches `GET {base}/token_keys?zid={zid}` over HTTPS (rustls).
pub struct HttpJwksFetcher {
    http: reqwest::Client,
    url: Url,
    host: String,
    timeout: Duration,
}

impl fmt::Debug for HttpJwksFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpJwksFetcher")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl HttpJwksFetcher {
    /// A fetcher for a binding's `uaadomain`: `https://{uaadomain}/token_keys`, or
    /// `{uaadomain}/token_keys` when `uaadomain` already starts with `https://` (what xssec 4
    /// does; a local emulator may be `https://localhost:PORT`). Any other scheme is refused.
    pub fn new(uaadomain: &str, options: &JwksOptions) -> Result<Self, ValidationError> {
        Self::with_url(token_keys_url(uaadomain)?, options)
    }

    /// A fetcher for an explicit `token_keys` URL (any scheme; for local stand-ins and tests).
    pub fn with_url(url: Url, options: &JwksOptions) -> Result<Self, ValidationError> {
        let http = http_client(options.timeout, &options.extra_roots_pem, None)
            .map_err(|e| ValidationError::KeysUnavailable(format!("JWKS client: {e}")))?;
        Ok(Self {
            host: host_of(&url),
            http,
            url,
            timeout: options.timeout,
        })
    }

    /// The `token_keys` URL (without `zid`).
    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// `https://{uaadomain}/token_keys`, or `{uaadomain}/token_keys` for an `https://` value.
pub fn token_keys_url(uaadomain: &str) -> Result<Url, ValidationError> {
    let bad = || {
        ValidationError::KeysUnavailable(
            "uaadomain is neither a host name nor an https:// URL".into(),
        )
    };
    let base = if uaadomain.starts_with("https://") {
        uaadomain.trim_end_matches('/').to_owned()
    } else if uaadomain.contains("://") || uaadomain.is_empty() {
        return Err(bad());
    } else {
        format!("https://{}", uaadomain.trim_end_matches('/'))
    };
    let url = Url::parse(&format!("{base}/token_keys")).map_err(|_| bad())?;
    // `https://` alone, a path, a query or a fragment in `uaadomain` are all refused.
    if url.host_str().is_none_or(str::is_empty)
        || url.path() != "/token_keys"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(url)
}

#[async_trait]
impl JwksFetcher for HttpJwksFetcher {
    async fn fetch(&self, zid: Option<&str>) -> Result<JwkSet, ValidationError> {
        let mut url = self.url.clone();
        if let Some(zid) = zid {
            url.query_pairs_mut().append_pair("zid", zid);
        }
        let transport = |e: &reqwest::Error| {
            ValidationError::KeysUnavailable(if e.is_timeout() {
                format!(
                    "token_keys at {} did not answer within {} ms",
                    self.host,
                    self.timeout.as_millis()
                )
            } else {
                format!(
                    "token_keys at {} unreachable: {}",
                    self.host,
                    cfenv::text::root_cause(e)
                )
            })
        };
        let mut resp = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport(&e))?;
        match resp.status() {
            StatusCode::OK => {}
            // xssec 4: a 400 from /token_keys means the zone is not ours.
            StatusCode::BAD_REQUEST => return Err(ValidationError::WrongAudience),
            status => {
                return Err(ValidationError::KeysUnavailable(format!(
                    "token_keys at {} answered HTTP {}",
                    self.host,
                    status.as_u16()
                )));
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport(&e))? {
            if body.len() + chunk.len() > MAX_JWKS_BODY {
                return Err(ValidationError::KeysUnavailable(format!(
                    "token_keys at {} sent more than 1 MiB",
                    self.host
                )));
            }
            body.extend_from_slice(&chunk);
        }
        JwkSet::from_json(&body).map_err(|reason| {
            ValidationError::KeysUnavailable(format!("token_keys at {}: {reason}", self.host))
        })
    }
}

/// Settings of [`JwksCache`] and [`HttpJwksFetcher`].
#[derive(Debug, Clone)]
pub struct JwksOptions {
    /// Deadline for one fetch.
    pub timeout: Duration,
    /// Extra trusted root certificates (PEM), e.g. the local dev CA.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// How long a fetched set is used without refetching (xssec 4: 15 min).
    pub fresh_for: Duration,
    /// How much longer a set may be served while fetches fail.
    pub serve_stale_for: Duration,
    /// Least time between two fetches for one zone, except the regular refresh of a set older
    /// than `fresh_for`: bounds forced refreshes (unknown `kid`) and retries after a failure.
    pub min_refetch_interval: Duration,
    /// Most zones remembered at once.
    pub max_zones: usize,
    /// Most fetches for zones without a cached set per `min_refetch_interval`, over all zones.
    pub max_new_zone_fetches: u32,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            extra_roots_pem: Vec::new(),
            fresh_for: Duration::from_secs(15 * 60),
            serve_stale_for: Duration::from_secs(45 * 60),
            min_refetch_interval: Duration::from_secs(30),
            max_zones: 1000,
            max_new_zone_fetches: 20,
        }
    }
}

#[derive(Default)]
struct Zone {
    /// The last set fetched, and when.
    set: Option<(Arc<JwkSet>, Instant)>,
    /// When the last fetch started.
    last_attempt: Option<Instant>,
    /// Why the last fetch failed, if it did.
    last_error: Option<ValidationError>,
    /// Fetches finished so far (mirrored in [`Slot::completed`]).
    completed: u64,
}

#[derive(Default)]
struct Slot {
    /// Held across a fetch: that is what makes fetches single-flight.
    zone: tokio::sync::Mutex<Zone>,
    /// Readable without the lock, so a waiter can tell that a fetch finished while it waited.
    completed: AtomicU64,
}

/// A [`KeySource`] caching the key sets a [`JwksFetcher`] returns, per zone; see the module
/// documentation for the rules.
pub struct JwksCache {
    fetcher: Arc<dyn JwksFetcher>,
    options: JwksOptions,
    zones: Mutex<HashMap<Option<String>, Arc<Slot>>>,
    /// Start of the current new-zone window and the fetches counted in it.
    new_zone_window: Mutex<(Option<Instant>, u32)>,
    fetches: AtomicU64,
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("fresh_for", &self.options.fresh_for)
            .field("min_refetch_interval", &self.options.min_refetch_interval)
            .field("fetches", &self.fetches())
            .finish_non_exhaustive()
    }
}

/// Whether a waiter must fetch or can answer from the zone as it is.
enum Decision {
    Answer(Result<Arc<JwkSet>, ValidationError>),
    Fetch,
}

impl JwksCache {
    /// The production source for a binding's `uaadomain`: an [`HttpJwksFetcher`] for
    /// `https://{uaadomain}/token_keys` under a cache.
    pub fn new(uaadomain: &str, options: JwksOptions) -> Result<Self, ValidationError> {
        let fetcher = HttpJwksFetcher::new(uaadomain, &options)?;
        Ok(Self::with_fetcher(Arc::new(fetcher), options))
    }

    /// A cache over any fetcher (an in-memory one in tests). Only the cache settings of
    /// `options` apply.
    pub fn with_fetcher(fetcher: Arc<dyn JwksFetcher>, options: JwksOptions) -> Self {
        Self {
            fetcher,
            options,
            zones: Mutex::new(HashMap::new()),
            new_zone_window: Mutex::new((None, 0)),
            fetches: AtomicU64::new(0),
        }
    }

    /// Fetches started so far, over all zones (successful or not).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn slot(&self, zid: Option<&str>) -> Result<Arc<Slot>, ValidationError> {
        let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        let key = zid.map(str::to_owned);
        if let Some(slot) = zones.get(&key) {
            return Ok(slot.clone());
        }
        if zones.len() >= self.options.max_zones {
            // Forget zones that never got a set (garbage zids) and are not being fetched.
            zones.retain(|_, slot| match slot.zone.try_lock() {
                Ok(zone) => zone.set.is_some(),
                Err(_) => true,
            });
            if zones.len() >= self.options.max_zones {
                return Err(ValidationError::KeysUnavailable(
                    "too many identity zones cached".into(),
                ));
            }
        }
        Ok(zones.entry(key).or_default().clone())
    }

    /// Counts a fetch for a zone without a cached set; false when over the limit.
    fn admit_new_zone(&self, now: Instant) -> bool {
        let mut window = self
            .new_zone_window
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match window.0 {
            Some(start) if now.duration_since(start) < self.options.min_refetch_interval => {}
            _ => *window = (Some(now), 0),
        }
        if window.1 >= self.options.max_new_zone_fetches {
            return false;
        }
        window.1 += 1;
        true
    }

    fn servable(&self, zone: &Zone, now: Instant) -> Option<Arc<JwkSet>> {
        let (set, fetched) = zone.set.as_ref()?;
        (now.duration_since(*fetched) < self.options.fresh_for + self.options.serve_stale_for)
            .then(|| set.clone())
    }

    fn decide(&self, zone: &Zone, seen: u64, forced: bool, now: Instant) -> Decision {
        if !forced
            && let Some((set, fetched)) = &zone.set
            && now.duration_since(*fetched) < self.options.fresh_for
        {
            return Decision::Answer(Ok(set.clone()));
        }
        if zone.completed != seen {
            // A fetch finished while we waited for the lock: its result is ours.
            if let Some(set) = self.servable(zone, now) {
                return Decision::Answer(Ok(set));
            }
            if let Some(err) = &zone.last_error {
                return Decision::Answer(Err(err.clone()));
            }
        }
        if let Some(last) = zone.last_attempt
            && now.duration_since(last) < self.options.min_refetch_interval
            && let Some(set) = self.servable(zone, now)
        {
            // Rate limit: a forced refresh, or a retry after a failure, came too soon.
            return Decision::Answer(Ok(set));
        }
        Decision::Fetch
    }

    async fn get(&self, zid: Option<&str>, forced: bool) -> Result<Arc<JwkSet>, ValidationError> {
        let slot = self.slot(zid)?;
        let seen = slot.completed.load(Ordering::Acquire);
        let mut zone = slot.zone.lock().await;
        let now = Instant::now();
        if let Decision::Answer(answer) = self.decide(&zone, seen, forced, now) {
            return answer;
        }
        if zone.set.is_none() && !self.admit_new_zone(now) {
            return Err(ValidationError::ZoneNotAdmitted);
        }
        zone.last_attempt = Some(now);
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetcher.fetch(zid).await;
        zone.completed += 1;
        slot.completed.store(zone.completed, Ordering::Release);
        match result {
            Ok(set) => {
                let set = Arc::new(set);
                zone.set = Some((set.clone(), Instant::now()));
                zone.last_error = None;
                Ok(set)
            }
            Err(err) => {
                zone.last_error = Some(err.clone());
                match self.servable(&zone, Instant::now()) {
                    Some(set) => {
                        let age = zone
                            .set
                            .as_ref()
                            .map(|(_, fetched)| fetched.elapsed())
                            .unwrap_or_default();
                        tracing::warn!(
                            jwks.zid = zid.unwrap_or(""),
                            age_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
                            error = %err,
                            "JWKS fetch failed; serving the cached key set"
                        );
                        Ok(set)
                    }
                    None => Err(err),
                }
            }
        }
    }
}

#[async_trait]
impl KeySource for JwksCache {
    async fn keys(&self, zid: Option<&str>) -> Result<Arc<JwkSet>, ValidationError> {
        self.get(zid, false).await
    }

    async fn refresh(&self, zid: Option<&str>) -> Result<Arc<JwkSet>, ValidationError> {
        self.get(zid, true).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn builds_the_token_keys_url_from_uaadomain_only() {
        let url = |d: &str| token_keys_url(d).map(|u| u.to_string());
        assert_eq!(
            url("authentication.eu10.hana.ondemand.com").unwrap(),
            "https://authentication.eu10.hana.ondemand.com/token_keys"
        );
        assert_eq!(
            url("https://localhost:8443/").unwrap(),
            "https://localhost:8443/token_keys"
        );
        assert_eq!(
            url("127.0.0.1:9000").unwrap(),
            "https://127.0.0.1:9000/token_keys"
        );
        for bad in [
            "http://localhost:8080",
            "",
            "ftp://x",
            "a?b=c",
            "https://",
            "example.com/path",
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_real_shaped_jwks_and_skips_unusable_keys() {
        let doc = br#"{"keys":[
            {"kty":"RSA","e":"AQAB","use":"sig","kid":"default-jwt-key--57481397","alg":"RS256",
             "value":"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----","n":"AMPo"},
            {"kty":"oct","k":"c2VjcmV0","kid":"hmac"},
            {"kty":"RSA","kid":"no-n","e":"AQAB"},
            {"kty":"EC","crv":"P-256","kid":"ec","x":"AQ","y":"Ag"},
            {"kty":"EC","crv":"secp256k1","kid":"k1","x":"AQ","y":"Ag"},
            "not an object"
        ]}"#;
        let set = JwkSet::from_json(doc).unwrap();
        let kids: Vec<_> = set.keys.iter().map(|k| k.kid.as_deref().unwrap()).collect();
        assert_eq!(kids, ["default-jwt-key--57481397", "ec"]);
        let rsa = set.find("default-jwt-key--57481397").unwrap();
        assert_eq!(
            rsa.key,
            JwkKey::Rsa {
                n: vec![0xc3, 0xe8],
                e: vec![1, 0, 1]
            }
        );
        assert_eq!(rsa.alg.as_deref(), Some("RS256"));
        assert_eq!(rsa.key_use.as_deref(), Some("sig"));
        let JwkKey::Ec { x, y, .. } = &set.find("ec").unwrap().key else {
            panic!("EC key expected")
        };
        assert_eq!((x.len(), x[31], y[31]), (32, 1, 2));
        assert!(JwkSet::from_json(b"{}").is_err());
        assert!(JwkSet::from_json(b"[]").is_err());
        assert!(JwkSet::from_json(b"{\"keys\":{}}").is_err());
    }

    #[test]
    fn serializes_and_parses_back() {
        let set = JwkSet {
            keys: vec![
                Jwk::rsa("r", &[0, 0xc3, 0xe8], &[1, 0, 1]).with_alg("RS256"),
                Jwk::ec_from_point("e", EcCurve::P256, &[[4u8].as_slice(), &[7; 64]].concat())
                    .unwrap(),
            ],
        };
        let json = serde_json::to_vec(&set).unwrap();
        assert_eq!(JwkSet::from_json(&json).unwrap(), set);
        let via_serde: JwkSet = serde_json::from_slice(&json).unwrap();
        assert_eq!(via_serde, set);
        assert!(Jwk::ec_from_point("e", EcCurve::P384, &[4; 65]).is_none());
    }
}
