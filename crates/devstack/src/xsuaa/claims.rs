//! Token claims in XSUAA's shapes (docs/protocols.md §XSUAA token claims): the JOSE header,
//! access-token claims for client and user grants, and the OpenID Connect ID token.
//!
//! `scope` is a JSON array (clients such as `@sap/xssec` match scopes with `includes`, which on
//! a string would be a substring match); `aud` is the application prefix of every scope plus
//! the client id; `iss` is the token endpoint; `exp − iat` is the descriptor's token validity.

use serde_json::{Value, json};

use super::users::User;
use super::{IDENTITY_ZONE, Inner, ORIGIN, ZONE_ID};

/// Who a token is for.
pub(super) struct Grant<'a> {
    pub(super) client_id: &'a str,
    pub(super) grant_type: &'a str,
    pub(super) scopes: &'a [String],
    /// The user and when they signed in (user grants only).
    pub(super) user: Option<(&'a User, i64)>,
}

/// `{"alg":"RS256","jku":"<url>/token_keys","kid":…,"typ":"JWT"}`.
pub(super) fn header(url: &str, kid: &str) -> Value {
    json!({
        "alg": "RS256",
        "jku": format!("{url}/token_keys"),
        "kid": kid,
        "typ": "JWT",
    })
}

/// The access-token claims for `grant`, issued at `now` (epoch seconds).
pub(super) fn access(x: &Inner, grant: &Grant<'_>, now: i64) -> Value {
    let validity = i64::from(x.descriptor.token_validity());
    let mut c = json!({
        "jti": super::random_hex(16),
        "ext_attr": {
            "enhancer": "XSUAA",
            "subaccountid": ZONE_ID,
            "zdn": IDENTITY_ZONE,
        },
        "sub": grant.client_id,
        "scope": grant.scopes,
        "client_id": grant.client_id,
        "cid": grant.client_id,
        "azp": grant.client_id,
        "grant_type": grant.grant_type,
        "rev_sig": rev_sig(grant.client_id, grant.user.map(|(u, _)| u.id.as_str())),
        "iat": now,
        "exp": now + validity,
        "iss": format!("{}/oauth/token", x.url),
        "zid": ZONE_ID,
        "aud": audience(grant.scopes, grant.client_id),
    });
    if let Some((user, auth_time)) = grant.user {
        c["sub"] = user.id.clone().into();
        c["user_id"] = user.id.clone().into();
        c["user_name"] = user.username.clone().into();
        c["origin"] = ORIGIN.into();
        c["email"] = user.email.clone().into();
        c["given_name"] = user.given_name.clone().into();
        c["family_name"] = user.family_name.clone().into();
        c["auth_time"] = auth_time.into();
        c["xs.user.attributes"] = json!(user.attributes);
        c["xs.system.attributes"] = json!({ "xs.rolecollections": user.role_collections });
    }
    c
}

/// The OpenID Connect ID token for a user grant.
pub(super) fn id_token(
    x: &Inner,
    client_id: &str,
    grant_type: &str,
    user: &User,
    auth_time: i64,
    nonce: Option<&str>,
    now: i64,
) -> Value {
    let validity = i64::from(x.descriptor.token_validity());
    let mut c = json!({
        "jti": super::random_hex(16),
        "sub": user.id,
        "aud": [client_id],
        "iss": format!("{}/oauth/token", x.url),
        "iat": now,
        "exp": now + validity,
        "amr": ["pwd"],
        "azp": client_id,
        "scope": ["openid"],
        "email": user.email,
        "zid": ZONE_ID,
        "origin": ORIGIN,
        "client_id": client_id,
        "cid": client_id,
        "grant_type": grant_type,
        "user_name": user.username,
        "user_id": user.id,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "auth_time": auth_time,
        "rev_sig": rev_sig(client_id, Some(&user.id)),
    });
    if let Some(nonce) = nonce {
        c["nonce"] = nonce.into();
    }
    c
}

/// The application prefix (text before the first `.`, or the whole scope) of every scope, once
/// each, then the client id.
pub(super) fn audience(scopes: &[String], client_id: &str) -> Vec<String> {
    let mut aud: Vec<String> = Vec::new();
    for scope in scopes {
        let prefix = scope.split('.').next().unwrap_or(scope);
        if !prefix.is_empty() && !aud.iter().any(|a| a == prefix) {
            aud.push(prefix.to_owned());
        }
    }
    if !aud.iter().any(|a| a == client_id) {
        aud.push(client_id.to_owned());
    }
    aud
}

/// 8 hex characters that stay the same for a client (and user), like UAA's revocation
/// signature.
fn rev_sig(client_id: &str, user_id: Option<&str>) -> String {
    let input = format!("{client_id}|{}", user_id.unwrap_or(""));
    super::sha256(input.as_bytes())[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn audience_is_scope_prefixes_then_the_client() {
        assert_eq!(
            audience(
                &strings(&["bridge!t1.Read", "uaa.resource", "bridge!t1.Write"]),
                "sb-bridge!t1"
            ),
            ["bridge!t1", "uaa", "sb-bridge!t1"]
        );
        assert_eq!(
            audience(&strings(&["openid", "bridge!t1.Read"]), "sb-bridge!t1"),
            ["openid", "bridge!t1", "sb-bridge!t1"]
        );
        assert_eq!(audience(&[], "sb-x"), ["sb-x"]);
    }

    #[test]
    fn rev_sig_is_eight_hex_characters() {
        let s = rev_sig("sb-bridge!t1", None);
        assert_eq!(s.len(), 8);
        assert!(s.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(s, rev_sig("sb-bridge!t1", None));
        assert_ne!(s, rev_sig("sb-bridge!t1", Some("u")));
    }
}
