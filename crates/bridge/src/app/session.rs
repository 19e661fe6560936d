//! Browser sessions, as the SAP approuter keeps them: the session cookie holds only a random
//! id; the XSUAA tokens stay on the server. Each session has its own CSRF token (SAP
//! convention: `X-CSRF-Token: Fetch` on a GET returns it; state-changing requests must send
//! it). Sessions expire after an idle time and are bounded in number, overall and per user.
//!
//! A login in progress keeps nothing on the server: its `state`, the path to return to and an
//! expiry travel in a short-lived cookie signed with a per-process HMAC key ([`LoginSeal`]), so
//! a client that never signs in can make the server remember nothing (see `docs/BOUNDS.md`).
//!
//! Sessions live in this process's memory, like the approuter's default store: several app
//! instances behind the Cloud Foundry router need session affinity (the router's
//! `__VCAP_ID__` cookie does that), or bearer tokens from an approuter in front.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cfenv::Secret;
use tokio::time::Instant;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "bridge_session";
/// The cookie binding a login in progress to the browser that started it.
pub const LOGIN_COOKIE: &str = "bridge_login";

/// The system's random number generator failed (it does not on supported platforms).
#[derive(Debug, Clone, Copy)]
pub struct NoRandomness;

/// A random 256-bit identifier, base64url.
pub fn random_id() -> Result<String, NoRandomness> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut b = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| NoRandomness)?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// The tokens of a session.
pub struct Tokens {
    /// The current access token.
    pub access: Secret,
    /// The refresh token, if XSUAA issued one.
    pub refresh: Option<Secret>,
    /// When the access token expires.
    pub expires_at: Instant,
}

/// One signed-in browser.
pub struct Session {
    /// The CSRF token of this session.
    pub csrf: String,
    /// Who signed in (for logs: the user name, not a secret).
    pub user: String,
    /// The tokens; the lock also serialises refreshes.
    pub tokens: tokio::sync::Mutex<Tokens>,
    last_seen: Mutex<Instant>,
}

/// All sessions, and the key that seals logins in progress.
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    login: LoginSeal,
    idle_timeout: Duration,
    max_sessions: usize,
    max_per_user: usize,
}

/// How long a login may take between the redirect to XSUAA and the callback.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Sessions one user may hold at once (browsers, devices); signing in again beyond that ends
/// that user's least recently used session.
pub const MAX_SESSIONS_PER_USER: usize = 10;

impl SessionStore {
    /// A store whose sessions end after `idle_timeout` without requests, with at most
    /// `max_sessions` live sessions (the least recently used is ended first).
    pub fn new(idle_timeout: Duration, max_sessions: usize) -> Result<Self, NoRandomness> {
        Ok(Self {
            sessions: Mutex::new(HashMap::new()),
            login: LoginSeal::new()?,
            idle_timeout,
            max_sessions,
            max_per_user: MAX_SESSIONS_PER_USER,
        })
    }

    /// Starts a login returning to `redirect` (a checked local path): the `state` to send to
    /// XSUAA, and the sealed cookie value that binds it to this browser.
    pub fn begin_login(&self, redirect: &str) -> Result<(String, String), NoRandomness> {
        let state = random_id()?;
        let sealed = self
            .login
            .seal(&state, redirect, SystemTime::now() + LOGIN_TIMEOUT);
        Ok((state, sealed))
    }

    /// Ends a login: the path to return to, if `cookie` is a sealed login of this process for
    /// exactly this `state` and has not expired.
    pub fn finish_login(&self, cookie: &str, state: &str) -> Option<String> {
        self.login.open(cookie, state, SystemTime::now())
    }

    /// Creates a session; returns its id (the cookie value).
    pub fn create(&self, user: String, tokens: Tokens) -> Result<String, NoRandomness> {
        let id = random_id()?;
        let session = Arc::new(Session {
            csrf: random_id()?,
            user,
            tokens: tokio::sync::Mutex::new(tokens),
            last_seen: Mutex::new(Instant::now()),
        });
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let idle = self.idle_timeout;
        sessions.retain(|_, s| s.idle() < idle);
        let user = &session.user;
        let least_recent = |sessions: &HashMap<String, Arc<Session>>, own: bool| {
            sessions
                .iter()
                .filter(|(_, s)| !own || s.user == *user)
                .max_by_key(|(_, s)| s.idle())
                .map(|(k, _)| k.clone())
        };
        let own = sessions.values().filter(|s| s.user == *user).count();
        if own >= self.max_per_user
            && let Some(oldest) = least_recent(&sessions, true)
        {
            sessions.remove(&oldest);
        }
        if sessions.len() >= self.max_sessions
            && let Some(oldest) = least_recent(&sessions, false)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), session);
        Ok(id)
    }

    /// The live session with this id, marking it used.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let session = sessions.get(id)?.clone();
        if session.idle() >= self.idle_timeout {
            sessions.remove(id);
            return None;
        }
        *session.last_seen.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        Some(session)
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Session {
    fn idle(&self) -> Duration {
        self.last_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }
}

/// Seals a login in progress into a cookie value, so the server keeps no state before sign-in:
/// `base64url(expiry ‖ state ‖ redirect) "." base64url(HMAC-SHA256)`, under a key drawn at
/// start-up. The MAC covers everything, so a browser can neither change the path it returns to
/// nor extend the login's life; the key is per process, like the sessions themselves.
pub struct LoginSeal {
    key: hmac::Key,
}

/// Bytes of a `state` (base64url of 32 random bytes).
const STATE_LEN: usize = 43;

impl LoginSeal {
    /// A seal with a fresh random key.
    pub fn new() -> Result<Self, NoRandomness> {
        use aws_lc_rs::rand::SecureRandom as _;
        let mut key = [0u8; 32];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| NoRandomness)?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }

    /// The cookie value for `state` returning to `redirect`, valid until `expires`.
    pub fn seal(&self, state: &str, redirect: &str, expires: SystemTime) -> String {
        let secs = expires
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut payload = Vec::with_capacity(8 + state.len() + redirect.len());
        payload.extend_from_slice(&secs.to_be_bytes());
        payload.extend_from_slice(state.as_bytes());
        payload.extend_from_slice(redirect.as_bytes());
        let tag = hmac::sign(&self.key, &payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// The redirect of a sealed login, if `cookie` verifies, is for `state` and is unexpired at
    /// `now`.
    pub fn open(&self, cookie: &str, state: &str, now: SystemTime) -> Option<String> {
        let (payload, tag) = cookie.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.key, &payload, &tag).ok()?;
        let (secs, rest) = payload.split_first_chunk::<8>()?;
        let expires = UNIX_EPOCH + Duration::from_secs(u64::from_be_bytes(*secs));
        if now >= expires || rest.len() < STATE_LEN {
            return None;
        }
        let (sealed_state, redirect) = rest.split_at(STATE_LEN);
        // The MAC already proved these bytes are ours; the comparison binds them to the
        // `state` XSUAA sent back.
        if sealed_state != state.as_bytes() {
            return None;
        }
        String::from_utf8(redirect.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tokens() -> Tokens {
        Tokens {
            access: Secret::new("a".to_owned()),
            refresh: None,
            expires_at: Instant::now() + Duration::from_secs(60),
        }
    }

    #[test]
    fn a_sealed_login_opens_only_for_its_state_before_expiry() {
        let seal = LoginSeal::new().unwrap();
        let state = random_id().unwrap();
        let now = SystemTime::now();
        let c = seal.seal(&state, "/catalog/Buckets?$top=1", now + LOGIN_TIMEOUT);
        assert_eq!(
            seal.open(&c, &state, now).as_deref(),
            Some("/catalog/Buckets?$top=1")
        );
        let other = random_id().unwrap();
        assert_eq!(seal.open(&c, &other, now), None, "another state");
        assert_eq!(seal.open(&c, &state, now + LOGIN_TIMEOUT), None, "expired");
        assert_eq!(
            LoginSeal::new().unwrap().open(&c, &state, now),
            None,
            "another process's key"
        );
        // Any change to the payload or the tag breaks the MAC.
        let (payload, tag) = c.split_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(seal.open(&forged, &state, now), None);
        for junk in [
            "",
            ".",
            "x.y",
            "....",
            &format!("{payload}."),
            &format!(".{tag}"),
        ] {
            assert_eq!(seal.open(junk, &state, now), None, "{junk:?}");
        }
    }

    #[test]
    fn sessions_are_bounded_per_user_and_overall() {
        let store = SessionStore::new(Duration::from_secs(60), 25).unwrap();
        let alice: Vec<String> = (0..MAX_SESSIONS_PER_USER + 5)
            .map(|_| store.create("alice".into(), tokens()).unwrap())
            .collect();
        assert_eq!(store.len(), MAX_SESSIONS_PER_USER, "alice's own cap");
        assert!(
            store.get(alice.last().unwrap()).is_some(),
            "the newest stays"
        );
        for i in 0..100 {
            store.create(format!("user{i}"), tokens()).unwrap();
        }
        assert_eq!(store.len(), 25, "the overall cap");
    }
}
