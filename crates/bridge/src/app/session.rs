//! Browser sessions, as the SAP approuter keeps them: the session cookie holds only a random
//! id; the XSUAA tokens stay on the server. Each session has its own CSRF token (SAP
//! convention: `X-CSRF-Token: Fetch` on a GET returns it; state-changing requests must send
//! it). Sessions expire after an idle time and are bounded in number.
//!
//! Sessions live in this process's memory, like the approuter's default store: several app
//! instances behind the Cloud Foundry router need session affinity (the router's
//! `__VCAP_ID__` cookie does that), or bearer tokens from an approuter in front.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
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
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
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

struct PendingLogin {
    redirect: String,
    created: Instant,
}

/// All sessions and logins in progress.
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    pending: Mutex<HashMap<String, PendingLogin>>,
    idle_timeout: Duration,
    max_sessions: usize,
}

/// How long a login may take between redirect and callback.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);

impl SessionStore {
    /// A store whose sessions end after `idle_timeout` without requests.
    pub fn new(idle_timeout: Duration, max_sessions: usize) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            idle_timeout,
            max_sessions,
        }
    }

    /// Starts a login; returns the `state` to send to XSUAA and bind to the browser.
    pub fn begin_login(&self, redirect: String) -> Result<String, NoRandomness> {
        let state = random_id()?;
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, p| p.created.elapsed() < LOGIN_TIMEOUT);
        if pending.len() >= self.max_sessions {
            // Bounded: the oldest logins in progress are dropped first.
            if let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, p)| p.created)
                .map(|(k, _)| k.clone())
            {
                pending.remove(&oldest);
            }
        }
        pending.insert(
            state.clone(),
            PendingLogin {
                redirect,
                created: Instant::now(),
            },
        );
        Ok(state)
    }

    /// Ends a login in progress: the redirect target, if `state` is known and fresh.
    pub fn finish_login(&self, state: &str) -> Option<String> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .remove(state)
            .filter(|p| p.created.elapsed() < LOGIN_TIMEOUT)
            .map(|p| p.redirect)
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
        if sessions.len() >= self.max_sessions
            && let Some(oldest) = sessions
                .iter()
                .max_by_key(|(_, s)| s.idle())
                .map(|(k, _)| k.clone())
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
