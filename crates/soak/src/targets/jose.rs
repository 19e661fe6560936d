//! JOSE material shared by the `jwt` and `validate` targets: the binding's names, seed headers
//! and claims in XSUAA's shapes, base64url.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The clock of the seeds: 2025-01-01T00:00:00Z.
pub(super) const NOW_S: i64 = 1_735_689_600;
/// The validator's usual clock, 123 ms after [`NOW_S`].
pub(super) const NOW_MS: i64 = NOW_S * 1000 + 123;
pub(super) const CLIENTID: &str = "sb-myapp!t12345";
pub(super) const BROKER_CLIENTID: &str = "sb-myapp!b12345";
pub(super) const XSAPPNAME: &str = "myapp!t12345";
pub(super) const UAADOMAIN: &str = "authentication.eu10.hana.ondemand.com";
pub(super) const ZID: &str = "a1b2c3d4-e5f6-4711-8899-aabbccddeeff";

/// Member names of headers and claims.
pub(super) const KEYS: &[&str] = &[
    "alg",
    "kid",
    "jku",
    "typ",
    "jid",
    "crit",
    "x5t",
    "exp",
    "nbf",
    "iat",
    "aud",
    "cid",
    "azp",
    "scope",
    "zid",
    "sub",
    "iss",
    "client_id",
    "grant_type",
    "user_name",
    "email",
    "origin",
    "ext_attr",
    "xs.user.attributes",
];

/// Strings of headers and claims.
pub(super) const STRINGS: &[&str] = &[
    "RS256",
    "rs256",
    "RS384",
    "PS256",
    "PS512",
    "ES256",
    "es256",
    "ES384",
    "ES512",
    "HS256",
    "none",
    "JWT",
    "rsa-1",
    "rsa-rs",
    "ec-256",
    "ec-384",
    "ec-521",
    "ec-enc",
    "ec-rs",
    "unknown-kid",
    CLIENTID,
    BROKER_CLIENTID,
    XSAPPNAME,
    "myapp!t12345.Read",
    "myapp!t12345.JobRunner",
    "sb-other!b7|myapp!t12345",
    "other!t1",
    "uaa.resource",
    "openid",
    "client_credentials",
    "authorization_code",
    "refresh_token",
    ZID,
    "a.b-c_d",
    "zone/../x",
    "alice@example.com",
    "https://acme-dev.authentication.eu10.hana.ondemand.com/token_keys",
];

/// Byte-level dictionary for compact tokens.
pub(super) const DICT: &[&str] = &[
    ".",
    "..",
    "=",
    "==",
    "+",
    "/",
    "-",
    "_",
    "eyJ",
    "e30",
    "eyJhbGciOiJSUzI1NiJ9",
    "eyJhbGciOiJub25lIn0",
    "bnVsbA",
    "W10",
    "AA",
    "AQAB",
    "QR",
    "Bearer ",
];

/// base64url without padding.
pub(super) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The header of a token signed with the key `kid`.
pub(super) fn header(alg: &str, kid: &str) -> Value {
    json!({
        "alg": alg,
        "jku": format!("https://acme-dev.{UAADOMAIN}/token_keys"),
        "kid": kid,
        "typ": "JWT",
    })
}

/// The claim sets the seeds carry: a client-credentials token of our client, a user token
/// (audience from the scopes), a broker clone's token, one with `nbf` and no `zid`.
pub(super) fn claim_sets() -> Vec<Value> {
    vec![
        json!({
            "jti": "1fc92dfb75b443c18d3ee78ae9021fa7",
            "ext_attr": {"enhancer": "XSUAA", "subaccountid": ZID, "zdn": "acme-dev"},
            "sub": CLIENTID,
            "scope": [format!("{XSAPPNAME}.Read"), format!("{XSAPPNAME}.JobRunner"), "uaa.resource"],
            "client_id": CLIENTID,
            "cid": CLIENTID,
            "azp": CLIENTID,
            "grant_type": "client_credentials",
            "iat": NOW_S - 60,
            "exp": NOW_S + 3600,
            "iss": format!("https://acme-dev.{UAADOMAIN}/oauth/token"),
            "zid": ZID,
            "aud": ["uaa", XSAPPNAME, CLIENTID],
        }),
        json!({
            "user_name": "alice@example.com",
            "origin": "sap.default",
            "email": "alice@example.com",
            "scope": ["openid", format!("{XSAPPNAME}.Read")],
            "client_id": CLIENTID,
            "cid": CLIENTID,
            "grant_type": "authorization_code",
            "exp": NOW_S + 1800,
            "zid": ZID,
            "xs.user.attributes": {},
        }),
        json!({
            "cid": format!("sb-clone!b7|{XSAPPNAME}"),
            "scope": ["uaa.resource"],
            "grant_type": "client_credentials",
            "exp": NOW_S + 600,
            "zid": ZID,
        }),
        json!({
            "scope": [format!("{XSAPPNAME}.Read")],
            "cid": CLIENTID,
            "nbf": NOW_S + 30,
            "exp": NOW_S + 90,
            "aud": format!("{CLIENTID}.extra"),
        }),
    ]
}
