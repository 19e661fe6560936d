//! Validation verdicts: one table of `(case, token, verdict)` rows run through `check`, plus
//! the tests that need time or counting (forced refresh, rotation, unavailable keys).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use serde_json::{Value, json};
use xsuaa::error::ValidationError as E;
use xsuaa::jwks::KeySource;
use xsuaa::validate::{Validator, ValidatorConfig};

use crate::util::{
    CLIENTID, MemoryFetcher, Mint, NOW_S, Signer, XSAPPNAME, ZID, b64, config, jwk_set, keys,
    validator,
};

type Verdict = Result<(), E>;

/// Runs every row; reports all mismatches at once.
async fn check(v: &Validator, rows: Vec<(&str, String, Verdict)>) {
    let mut failures = Vec::new();
    for (case, token, expected) in rows {
        let got = v.validate(&token).await.map(|_| ());
        let same = match (&got, &expected) {
            // The text of `Malformed` is our own wording; the verdict is the variant.
            (Err(E::Malformed(_)), Err(E::Malformed(_))) => true,
            _ => got == expected,
        };
        if !same {
            failures.push(format!("{case}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn malformed() -> Verdict {
    Err(E::Malformed(""))
}

fn parts(token: &str) -> (&str, &str, &str) {
    let mut it = token.split('.');
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

#[tokio::test]
async fn verdict_table() {
    let (v, _) = validator(config(), MemoryFetcher::new(jwk_set()));
    let valid = Mint::cc().sign();
    let (h, p, s) = parts(&valid);
    let k = keys();

    let mut rows: Vec<(&str, String, Verdict)> = vec![
        (
            "valid RS256 client-credentials token",
            valid.clone(),
            Ok(()),
        ),
        (
            "alg compared ignoring case",
            Mint::cc().header("alg", "rs256").sign(),
            Ok(()),
        ),
        (
            "no zid: keys of the default zone",
            Mint::cc().without("zid").sign(),
            Ok(()),
        ),
        // 1. exp
        (
            "expired an hour ago",
            Mint::cc().claim("exp", NOW_S - 3600).sign(),
            Err(E::Expired),
        ),
        (
            "exp-30 s: within the leeway",
            Mint::cc().claim("exp", NOW_S - 30).sign(),
            Ok(()),
        ),
        (
            "exp-58 s: still valid (xssec verified)",
            Mint::cc().claim("exp", NOW_S - 58).sign(),
            Ok(()),
        ),
        (
            "exp-59 s: expired (xssec verified)",
            Mint::cc().claim("exp", NOW_S - 59).sign(),
            Err(E::Expired),
        ),
        (
            "exp-61 s: expired",
            Mint::cc().claim("exp", NOW_S - 61).sign(),
            Err(E::Expired),
        ),
        (
            "fractional exp",
            Mint::cc().claim("exp", NOW_S as f64 + 0.5).sign(),
            Ok(()),
        ),
        ("no exp", Mint::cc().without("exp").sign(), malformed()),
        (
            "exp as a numeric string",
            Mint::cc().claim("exp", (NOW_S + 3600).to_string()).sign(),
            malformed(),
        ),
        ("exp zero", Mint::cc().claim("exp", 0).sign(), malformed()),
        // Issue 12: a far-future exp was accepted.
        (
            "exp beyond JavaScript's dates",
            Mint::cc().claim("exp", 1e13).sign(),
            malformed(),
        ),
        (
            "exp in the year 10000",
            Mint::cc().claim("exp", 253_402_300_800_i64).sign(),
            malformed(),
        ),
        (
            "exp at the last second of 9999",
            Mint::cc().claim("exp", 253_402_300_799_i64).sign(),
            Ok(()),
        ),
        (
            "exp 1e308",
            Mint::cc().claim("exp", 1e308).sign(),
            malformed(),
        ),
        (
            "nbf in the year 10000",
            Mint::cc().claim("nbf", 253_402_300_800_i64).sign(),
            malformed(),
        ),
        (
            "iat in the year 10000",
            Mint::cc().claim("iat", 253_402_300_800_i64).sign(),
            malformed(),
        ),
        (
            "iat negative",
            Mint::cc().claim("iat", -1).sign(),
            malformed(),
        ),
        (
            "iat as a string",
            Mint::cc().claim("iat", "1").sign(),
            malformed(),
        ),
        (
            "iat in the past",
            Mint::cc().claim("iat", NOW_S - 60).sign(),
            Ok(()),
        ),
        (
            "exp negative",
            Mint::cc().claim("exp", -1).sign(),
            malformed(),
        ),
        (
            "exp null",
            Mint::cc().claim("exp", Value::Null).sign(),
            malformed(),
        ),
        (
            "exp true",
            Mint::cc().claim("exp", true).sign(),
            malformed(),
        ),
        // 2. nbf
        (
            "nbf in 30 s: within the leeway",
            Mint::cc().claim("nbf", NOW_S + 30).sign(),
            Ok(()),
        ),
        (
            "nbf in 60 s: just within",
            Mint::cc().claim("nbf", NOW_S + 60).sign(),
            Ok(()),
        ),
        (
            "nbf in 120 s",
            Mint::cc().claim("nbf", NOW_S + 120).sign(),
            Err(E::NotYetValid),
        ),
        (
            "nbf in the past",
            Mint::cc().claim("nbf", NOW_S - 120).sign(),
            Ok(()),
        ),
        (
            "nbf a string",
            Mint::cc().claim("nbf", "soon").sign(),
            malformed(),
        ),
        ("nbf zero", Mint::cc().claim("nbf", 0).sign(), malformed()),
        (
            "expired and not yet valid: exp first",
            Mint::cc()
                .claim("exp", NOW_S - 3600)
                .claim("nbf", NOW_S + 3600)
                .sign(),
            Err(E::Expired),
        ),
        // 3. audience
        (
            "wrong audience: another app's token",
            Mint::cc()
                .claim("aud", json!(["uaa", "other!t9", "sb-other!t9"]))
                .claim("cid", "sb-other!t9")
                .claim("client_id", "sb-other!t9")
                .claim("azp", "sb-other!t9")
                .claim("scope", json!(["other!t9.Read"]))
                .sign(),
            Err(E::WrongAudience),
        ),
        (
            "audience only via scopes (no aud, foreign cid)",
            Mint::cc()
                .without("aud")
                .claim("cid", "sb-other!t9")
                .claim("scope", json!([format!("{XSAPPNAME}.Read")]))
                .sign(),
            Ok(()),
        ),
        (
            "empty aud array falls back to scopes",
            Mint::cc()
                .claim("aud", json!([]))
                .claim("cid", "sb-other!t9")
                .claim("scope", json!([format!("{XSAPPNAME}.Read")]))
                .sign(),
            Ok(()),
        ),
        (
            "scopes are not consulted when aud is non-empty",
            Mint::cc()
                .claim("aud", json!(["other!t9"]))
                .claim("cid", "sb-other!t9")
                .claim("scope", json!([format!("{XSAPPNAME}.Read")]))
                .sign(),
            Err(E::WrongAudience),
        ),
        (
            "foreign scopes only",
            Mint::cc()
                .without("aud")
                .claim("cid", "sb-other!t9")
                .claim("scope", json!(["other!t9.Read"]))
                .sign(),
            Err(E::WrongAudience),
        ),
        (
            "audience via cid only",
            Mint::cc().without("aud").claim("scope", json!([])).sign(),
            Ok(()),
        ),
        (
            "aud as a plain string (xsappname)",
            Mint::cc()
                .claim("aud", XSAPPNAME)
                .claim("cid", "sb-other!t9")
                .sign(),
            Ok(()),
        ),
        (
            "aud clientid + '.' prefix",
            Mint::cc()
                .claim("aud", json!([format!("{CLIENTID}.x")]))
                .claim("cid", "sb-other!t9")
                .sign(),
            Ok(()),
        ),
        (
            "aud prefix without a dot does not match",
            Mint::cc()
                .claim("aud", json!([format!("{XSAPPNAME}6")]))
                .claim("cid", "sb-other!t9")
                .sign(),
            Err(E::WrongAudience),
        ),
        (
            "no aud, no scope, no cid",
            Mint::cc()
                .without("aud")
                .without("scope")
                .without("cid")
                .sign(),
            Err(E::WrongAudience),
        ),
        (
            "aud a number",
            Mint::cc().claim("aud", 7).sign(),
            malformed(),
        ),
        (
            "aud with a non-string entry",
            Mint::cc().claim("aud", json!([XSAPPNAME, 7])).sign(),
            malformed(),
        ),
        (
            "cid a number",
            Mint::cc().claim("cid", 7).sign(),
            malformed(),
        ),
        (
            "scope as a string (xssec would substring-match)",
            Mint::cc()
                .claim("scope", format!("{XSAPPNAME}.Read"))
                .sign(),
            malformed(),
        ),
        (
            "scope with a non-string entry",
            Mint::cc().claim("scope", json!([1])).sign(),
            malformed(),
        ),
        // 4. kid, key, alg, signature
        (
            "no kid",
            Mint::cc().without_header("kid").sign(),
            Err(E::MissingKid),
        ),
        (
            "kid a number",
            Mint::cc().header("kid", 1).sign(),
            malformed(),
        ),
        (
            "unknown kid",
            Mint::cc().header("kid", "nope").sign(),
            Err(E::UnknownKid),
        ),
        (
            "rotated-out key",
            Mint::cc()
                .header("kid", "rsa-old")
                .signer(Signer::Rsa(
                    &k.rsa_old,
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                ))
                .sign(),
            Err(E::UnknownKid),
        ),
        (
            "signed by another key under a known kid",
            Mint::cc()
                .signer(Signer::Rsa(
                    &k.rsa_old,
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                ))
                .sign(),
            Err(E::InvalidSignature),
        ),
        (
            "alg none, unsigned",
            Mint::cc()
                .header("alg", "none")
                .signer(Signer::Unsigned)
                .sign(),
            Err(E::UnsupportedAlgorithm("none".into())),
        ),
        (
            "HS256 with the RSA public key bytes as HMAC secret",
            Mint::cc()
                .header("alg", "HS256")
                .signer(Signer::Hmac(
                    aws_lc_rs::signature::KeyPair::public_key(&k.rsa)
                        .as_ref()
                        .to_vec(),
                ))
                .sign(),
            Err(E::UnsupportedAlgorithm("HS256".into())),
        ),
        (
            "HS256 with the JWK's n as HMAC secret",
            Mint::cc()
                .header("alg", "HS256")
                .signer(Signer::Hmac(
                    crate::util::jwks_json()["keys"][0]["n"]
                        .as_str()
                        .unwrap()
                        .as_bytes()
                        .to_vec(),
                ))
                .sign(),
            Err(E::UnsupportedAlgorithm("HS256".into())),
        ),
        (
            "EdDSA",
            Mint::cc().header("alg", "EdDSA").sign(),
            Err(E::UnsupportedAlgorithm("EdDSA".into())),
        ),
        (
            "no alg",
            Mint::cc().without_header("alg").sign(),
            malformed(),
        ),
        (
            "ES256 header on an RSA key",
            Mint::cc()
                .header("alg", "ES256")
                .signer(Signer::Ec(&k.ec256))
                .sign(),
            Err(E::InvalidSignature),
        ),
        (
            "RS256 header on an EC key",
            Mint::cc().header("kid", "ec-256").sign(),
            Err(E::InvalidSignature),
        ),
        (
            "ES384 signature under the P-256 key",
            Mint::cc().alg("ES384").header("kid", "ec-256").sign(),
            Err(E::InvalidSignature),
        ),
        (
            "RS384 under a key whose JWK says RS256",
            Mint::cc()
                .header("alg", "RS384")
                .signer(Signer::Rsa(&k.rsa, &aws_lc_rs::signature::RSA_PKCS1_SHA384))
                .sign(),
            Err(E::InvalidSignature),
        ),
        (
            "tampered payload",
            format!(
                "{h}.{}.{s}",
                b64(serde_json::to_vec(
                    &Mint::cc()
                        .claim("scope", json!([format!("{XSAPPNAME}.Admin")]))
                        .claims
                )
                .unwrap())
            ),
            Err(E::InvalidSignature),
        ),
        (
            "tampered signature",
            format!("{h}.{p}.{}", flip_first(s)),
            Err(E::InvalidSignature),
        ),
        (
            "signature stripped",
            format!("{h}.{p}."),
            Err(E::InvalidSignature),
        ),
        // 0. structure
        ("garbage", "not a token".into(), malformed()),
        ("empty", String::new(), malformed()),
        (
            "oversized",
            Mint::cc().claim("pad", "x".repeat(17 * 1024)).sign(),
            Err(E::Oversized),
        ),
        ("extra segment", format!("{valid}.e30"), malformed()),
        ("trailing dot", format!("{valid}."), malformed()),
        ("two parts", format!("{h}.{p}"), malformed()),
        (
            "null header",
            format!("{}.{p}.{s}", b64("null")),
            malformed(),
        ),
        ("padded base64", padded(&Mint::cc()), malformed()),
        (
            "standard base64 alphabet",
            standard_alphabet(&valid),
            malformed(),
        ),
        ("leading space", format!(" {valid}"), malformed()),
        (
            "zid with URL characters",
            Mint::cc().claim("zid", "x&zid=y").sign(),
            malformed(),
        ),
        (
            "zid a number",
            Mint::cc().claim("zid", 5).sign(),
            malformed(),
        ),
    ];
    for alg in [
        "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
    ] {
        rows.push((alg, Mint::cc().alg(alg).sign(), Ok(())));
    }
    check(&v, rows).await;
}

#[tokio::test]
async fn broker_rule_applies_only_to_broker_bindings() {
    let clone = "sb-clone-7f3a!b9|svc!b45";
    let token = Mint::cc()
        .claim("aud", json!([clone]))
        .claim("cid", clone)
        .claim("scope", json!([]))
        .sign();
    let broker = ValidatorConfig {
        clientid: "sb-svc!b45".into(),
        xsappname: "svc!b45".into(),
        uaadomain: crate::util::UAADOMAIN.into(),
    };
    let (v, _) = validator(broker.clone(), MemoryFetcher::new(jwk_set()));
    let not_broker = ValidatorConfig {
        clientid: "sb-svc".into(),
        ..broker
    };
    let (plain, _) = validator(not_broker, MemoryFetcher::new(jwk_set()));
    let near_miss = Mint::cc()
        .claim("aud", json!(["sb-clone!b9|svc!b456"]))
        .claim("cid", "sb-clone!b9|svc!b456")
        .sign();
    check(
        &v,
        vec![
            ("clone token, broker binding", token.clone(), Ok(())),
            (
                "suffix must be |xsappname",
                near_miss,
                Err(E::WrongAudience),
            ),
        ],
    )
    .await;
    check(
        &plain,
        vec![(
            "clone token, non-broker binding",
            token,
            Err(E::WrongAudience),
        )],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn unknown_kid_forces_one_rate_limited_refresh() {
    let fetcher = MemoryFetcher::new(jwk_set());
    let (v, cache) = validator(config(), fetcher.clone());
    v.validate(&Mint::cc().sign()).await.unwrap();
    assert_eq!(cache.fetches(), 1);

    // Right after a fetch, an unknown kid does not refetch: the set is as new as it gets.
    let unknown = |kid: &str| Mint::cc().header("kid", kid).sign();
    assert_eq!(
        v.validate(&unknown("k-1")).await.unwrap_err(),
        E::UnknownKid
    );
    assert_eq!(cache.fetches(), 1);

    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(
        v.validate(&unknown("k-2")).await.unwrap_err(),
        E::UnknownKid
    );
    assert_eq!(cache.fetches(), 2, "one forced refresh");
    for i in 0..50 {
        assert_eq!(
            v.validate(&unknown(&format!("random-{i}")))
                .await
                .unwrap_err(),
            E::UnknownKid
        );
    }
    assert_eq!(
        cache.fetches(),
        2,
        "rate-limited: garbage kids do not refetch"
    );

    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(
        v.validate(&unknown("k-3")).await.unwrap_err(),
        E::UnknownKid
    );
    assert_eq!(cache.fetches(), 3);
    assert!(
        fetcher
            .calls
            .lock()
            .unwrap()
            .iter()
            .all(|z| z.as_deref() == Some(ZID))
    );
}

#[tokio::test(start_paused = true)]
async fn a_rotated_in_key_is_picked_up_by_the_forced_refresh() {
    let fetcher = MemoryFetcher::new(jwk_set());
    let (v, cache) = validator(config(), fetcher.clone());
    v.validate(&Mint::cc().sign()).await.unwrap();

    // XSUAA rotates: `rsa-new` appears, `rsa-1` goes.
    let k = keys();
    let new_token = Mint::cc()
        .header("kid", "rsa-new")
        .signer(Signer::Rsa(
            &k.rsa_old,
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        ))
        .sign();
    {
        let mut set = fetcher.set.lock().unwrap();
        let public = aws_lc_rs::signature::KeyPair::public_key(&k.rsa_old);
        set.keys[0] = xsuaa::jwks::Jwk::rsa(
            "rsa-new",
            public.modulus().big_endian_without_leading_zero(),
            public.exponent().big_endian_without_leading_zero(),
        );
    }
    tokio::time::advance(Duration::from_secs(31)).await;
    v.validate(&new_token).await.unwrap();
    assert_eq!(cache.fetches(), 2);
    // The old key is gone from the refreshed set.
    assert_eq!(
        v.validate(&Mint::cc().sign()).await.unwrap_err(),
        E::UnknownKid
    );
}

#[tokio::test]
async fn unavailable_keys_are_not_the_clients_fault() {
    let fetcher = MemoryFetcher::new(jwk_set());
    fetcher.set_fail(true);
    let (v, _) = validator(config(), fetcher);
    let err = v.validate(&Mint::cc().sign()).await.unwrap_err();
    assert!(matches!(err, E::KeysUnavailable(_)), "{err:?}");
    assert!(!err.is_client_error());
    // Checks before the signature do not need keys.
    assert_eq!(
        v.validate(&Mint::cc().claim("exp", NOW_S - 3600).sign())
            .await
            .unwrap_err(),
        E::Expired
    );
    for e in [
        E::Malformed("x"),
        E::Oversized,
        E::Expired,
        E::NotYetValid,
        E::WrongAudience,
        E::MissingKid,
        E::UnknownKid,
        E::UnsupportedAlgorithm("none".into()),
        E::InvalidSignature,
    ] {
        assert!(e.is_client_error(), "{e:?}");
        let d = e.oauth_error_description();
        assert!(
            !d.contains('"') && !d.contains('\\') && !d.is_empty(),
            "{d}"
        );
    }
}

#[tokio::test]
async fn token_exposes_claims_and_scope_checks() {
    let (v, _) = validator(config(), MemoryFetcher::new(jwk_set()));
    let raw = Mint::cc().sign();
    let t = v.validate(&raw).await.unwrap();
    assert_eq!(t.client_id(), Some(CLIENTID));
    assert_eq!(t.zone_id(), Some(ZID));
    assert_eq!(t.grant_type(), Some("client_credentials"));
    assert!(!t.is_user_token());
    assert_eq!(
        t.scopes(),
        [format!("{XSAPPNAME}.Read"), "uaa.resource".into()]
    );
    assert!(t.has_scope(&format!("{XSAPPNAME}.Read")));
    assert!(!t.has_scope("Read"));
    assert!(t.has_local_scope("Read"));
    assert!(!t.has_local_scope("Write"));
    assert!(!t.has_local_scope("Rea"));
    assert_eq!(
        t.expires_at(),
        UNIX_EPOCH + Duration::from_secs((NOW_S + 3600) as u64)
    );
    assert_eq!(t.header().kid.as_deref(), Some("rsa-1"));
    assert_eq!(t.claim("rev_sig"), Some(&json!("771d501f")));
    let debug = format!("{t:?}");
    let (h, p, s) = parts(&raw);
    for piece in [h, p, s] {
        assert!(!debug.contains(&piece[..16]), "{debug}");
    }

    let user = v
        .validate(
            &Mint::cc()
                .claim("grant_type", "authorization_code")
                .claim("user_name", "alice")
                .claim("email", "alice@example.com")
                .without("cid")
                .claim("client_id", "sb-ui!t1")
                .claim("scope", json!(["openid", format!("{XSAPPNAME}.Display")]))
                .sign(),
        )
        .await
        .unwrap();
    assert!(user.is_user_token());
    assert_eq!(user.user_name(), Some("alice"));
    assert_eq!(user.email(), Some("alice@example.com"));
    assert_eq!(user.client_id(), Some("sb-ui!t1"));
    assert!(user.has_local_scope("Display") && !user.has_local_scope("Read"));
}

#[tokio::test]
async fn in_memory_key_source_works_without_a_cache() {
    // The trait is object-safe and tiny: a fixed set is a valid source.
    struct Fixed(Arc<xsuaa::jwks::JwkSet>);
    #[async_trait::async_trait]
    impl KeySource for Fixed {
        async fn keys(&self, _: Option<&str>) -> Result<Arc<xsuaa::jwks::JwkSet>, E> {
            Ok(self.0.clone())
        }
        async fn refresh(&self, zid: Option<&str>) -> Result<Arc<xsuaa::jwks::JwkSet>, E> {
            self.keys(zid).await
        }
    }
    let v = Validator::new(config(), Arc::new(Fixed(Arc::new(jwk_set()))))
        .with_clock(Arc::new(|| crate::util::NOW_MS));
    v.validate(&Mint::cc().alg("ES512").sign()).await.unwrap();
    // The system clock is the default: a token minted for 2025 is long expired.
    let sys = Validator::new(config(), Arc::new(Fixed(Arc::new(jwk_set()))));
    assert_eq!(
        sys.validate(&Mint::cc().claim("exp", NOW_S + 60).sign())
            .await
            .unwrap_err(),
        E::Expired
    );
}

/// The first base64url character replaced by a different one (still canonical).
fn flip_first(part: &str) -> String {
    let first = if part.starts_with('A') { 'B' } else { 'A' };
    format!("{first}{}", &part[1..])
}

/// The token with its header re-encoded *with* `=` padding.
fn padded(mint: &Mint) -> String {
    let mut mint = mint.clone();
    let mut header = serde_json::to_vec(&mint.header).unwrap();
    while header.len().is_multiple_of(3) {
        mint = mint.header("x", "y".repeat(header.len() % 7 + 1));
        header = serde_json::to_vec(&mint.header).unwrap();
    }
    let token = mint.sign();
    let (_, p, s) = parts(&token);
    let h = URL_SAFE.encode(&header);
    assert!(h.ends_with('='));
    format!("{h}.{p}.{s}")
}

/// The token with `-`/`_` in the signature spelled `+`/`/` (standard base64).
fn standard_alphabet(token: &str) -> String {
    let (h, p, s) = parts(token);
    let s = if s.contains('-') {
        s.replacen('-', "+", 1)
    } else {
        s.replacen('_', "/", 1)
    };
    assert_ne!(s, parts(token).2, "signature has no - or _");
    format!("{h}.{p}.{s}")
}

/// The signature cache only skips the RSA verification: a token that verified before is still
/// checked for expiry on every call, and a kid whose key changed does not inherit the verdict.
#[tokio::test]
async fn remembered_signatures_do_not_bypass_other_checks() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let now = Arc::new(AtomicI64::new(crate::util::NOW_MS));
    let fetcher = MemoryFetcher::new(jwk_set());
    let cache = Arc::new(xsuaa::jwks::JwksCache::with_fetcher(
        fetcher.clone(),
        xsuaa::jwks::JwksOptions {
            min_refetch_interval: Duration::ZERO,
            fresh_for: Duration::ZERO,
            ..xsuaa::jwks::JwksOptions::default()
        },
    ));
    let clock = now.clone();
    let v =
        Validator::new(config(), cache).with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let token = Mint::cc().claim("exp", NOW_S + 600).sign();
    v.validate(&token).await.unwrap();
    v.validate(&token).await.unwrap();

    // Later than exp + leeway: expired, although the signature is remembered.
    now.store((NOW_S + 700) * 1000, Ordering::SeqCst);
    assert_eq!(v.validate(&token).await.unwrap_err(), E::Expired);
    now.store(crate::util::NOW_MS, Ordering::SeqCst);

    // The same kid now names another key: the remembered verdict does not carry over.
    {
        let k = keys();
        let public = aws_lc_rs::signature::KeyPair::public_key(&k.rsa_old);
        let mut set = fetcher.set.lock().unwrap();
        let kid = set.keys[0].kid.clone().unwrap();
        set.keys[0] = xsuaa::jwks::Jwk::rsa(
            kid,
            public.modulus().big_endian_without_leading_zero(),
            public.exponent().big_endian_without_leading_zero(),
        );
    }
    assert_eq!(v.validate(&token).await.unwrap_err(), E::InvalidSignature);
}
