//! The dev AWS account: who exists in it, their keys, and the sessions the local STS issues.
//!
//! - The account id is [`ACCOUNT_ID`] (`000000000000`): twelve zeros cannot be a real account,
//!   so a dev ARN pasted into a real policy matches nothing.
//! - The IAM user (`btp-bridge`) and the role (`btp-bridge-s3`, its trust and permission
//!   policies and MaxSessionDuration) are those of `deploy/aws/iam/`, built into the binary by
//!   the `iam` crate (`iam::deploy`) and rendered with the dev values: the account id, the
//!   bucket (default [`DEFAULT_BUCKET`]) and a generated ExternalId. What runs locally is what
//!   gets deployed.
//! - The user's long-term key pair (`AKIA…`, a 40-character secret), the ExternalId and the
//!   unique ids (`AIDA…`, `AROA…`) are created on first start and sealed in `aws/identity.bin`
//!   by [`crate::vault::Vault`], so they survive restarts like the real ones.
//! - Sessions ([`AwsIdentity::issue`]) are kept in memory only: a restart of `bridge dev`
//!   invalidates issued session tokens, which clients see as `InvalidClientTokenId` and treat
//!   like an expired session (they assume the role again).
//!
//! [`AwsIdentity`] is shared (it is an `Arc` inside) by the local STS, which issues sessions, and
//! the local S3, whose authentication hook calls [`AwsIdentity::lookup`] for the signing key's
//! [`Principal`] and evaluates the principal's policies with `iam::evaluate`. Time comes from an
//! injectable [`Clock`], so tests can expire sessions without waiting.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use cfenv::Secret;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DevError;
use crate::files;
use crate::vault::Vault;

/// The dev account's id.
pub const ACCOUNT_ID: &str = "000000000000";

/// The region the local AWS services answer for, unless configured otherwise.
pub const DEFAULT_REGION: &str = "eu-central-1";

/// The documents bucket, unless configured otherwise.
pub const DEFAULT_BUCKET: &str = "bridge-documents";

/// The `roleSessionName` of the generated `aws-config` binding.
pub const ROLE_SESSION_NAME: &str = "bridge-dev";

/// The longest session a role session may get by assuming a role (role chaining).
pub const ROLE_CHAINING_MAX: Duration = Duration::from_secs(3600);

/// Sessions whose expiry is longer ago than this are forgotten.
const FORGET_EXPIRED_AFTER: TimeDelta = TimeDelta::hours(12);

/// At most this many sessions are kept; the ones expiring first go first.
const MAX_SESSIONS: usize = 100_000;

/// Where the local AWS services get the time from.
pub trait Clock: fmt::Debug + Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to (for tests).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// A clock standing at the current time (whole seconds).
    pub fn starting_now() -> Self {
        let now = Utc::now();
        Self::new(DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
    }

    /// Sets the clock.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Settings of the dev account.
#[derive(Debug, Clone)]
pub struct AwsIdentityConfig {
    /// Where the keys are sealed (`<data>/aws`).
    pub dir: PathBuf,
    /// The region of the local AWS services.
    pub region: String,
    /// The documents bucket the role may use.
    pub bucket: String,
    /// The clock for session expiry and signature times.
    pub clock: Arc<dyn Clock>,
    /// Test knob: sessions last this long whatever `DurationSeconds` asked for (AWS's minimum
    /// is 900 s), so credential refresh can be tested against real expiry in seconds.
    pub session_lifetime: Option<Duration>,
}

impl AwsIdentityConfig {
    /// `dir` with the default region and bucket and the system clock.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            region: DEFAULT_REGION.to_owned(),
            bucket: DEFAULT_BUCKET.to_owned(),
            clock: Arc::new(SystemClock),
            session_lifetime: None,
        }
    }
}

/// A parsed policy document with the JSON it came from.
#[derive(Clone)]
pub struct Policy {
    name: String,
    json: Arc<str>,
    document: Arc<iam::PolicyDocument>,
}

impl Policy {
    fn loaded(name: &str, document: iam::PolicyDocument) -> Self {
        Self {
            name: name.to_owned(),
            json: Arc::from(document.to_json()),
            document: Arc::new(document),
        }
    }

    /// An inline session policy (the `Policy` parameter of AssumeRole), as sent.
    pub fn session(json: &str) -> Result<Self, iam::PolicyError> {
        let document = iam::PolicyDocument::from_json_as(json, iam::PolicyKind::Identity)?;
        Ok(Self {
            name: "session policy".to_owned(),
            json: Arc::from(json),
            document: Arc::new(document),
        })
    }

    /// Its name, e.g. the role's `PermissionPolicyName`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The JSON text (as sent for a session policy; re-serialised for the deploy files).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The parsed document, for `iam::evaluate`.
    pub fn document(&self) -> &iam::PolicyDocument {
        &self.document
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The IAM user.
#[derive(Debug, Clone)]
pub struct IamUser {
    /// `btp-bridge`.
    pub name: String,
    /// `arn:aws:iam::000000000000:user/btp-bridge` (with the user's path).
    pub arn: String,
    /// The unique id, `AIDA…`.
    pub user_id: String,
    /// Its identity policy (`user.json`'s `PolicyDocument`).
    pub policy: Policy,
    /// The long-term access key id, `AKIA…`.
    pub access_key_id: String,
    /// The long-term secret access key.
    pub secret_access_key: Secret,
}

/// The role.
#[derive(Debug, Clone)]
pub struct Role {
    /// `btp-bridge-s3`.
    pub name: String,
    /// `arn:aws:iam::000000000000:role/btp-bridge-s3` (with the role's path).
    pub arn: String,
    /// The unique id, `AROA…`.
    pub role_id: String,
    /// Who may assume it.
    pub trust_policy: Policy,
    /// What its sessions may do.
    pub permission_policy: Policy,
    /// The longest session AssumeRole grants.
    pub max_session_duration: Duration,
}

impl Role {
    /// `arn:aws:sts::{account}:assumed-role/{role}/{session}` (the role's path is not part of
    /// it).
    pub fn session_arn(&self, session_name: &str) -> String {
        format!(
            "arn:aws:sts::{ACCOUNT_ID}:assumed-role/{}/{session_name}",
            self.name
        )
    }

    /// `AROA…:{session}`, the session's `UserId`.
    pub fn session_user_id(&self, session_name: &str) -> String {
        format!("{}:{session_name}", self.role_id)
    }
}

/// What a temporary key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The IAM user's long-term key.
    User,
    /// A role session.
    RoleSession {
        /// The role's ARN (`arn:aws:iam::…:role/…`).
        role_arn: String,
        /// The `RoleSessionName`.
        session_name: String,
    },
}

/// Who signed with an access key, with everything needed to check the signature and authorize
/// the request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// User or role session.
    pub kind: PrincipalKind,
    /// `arn:aws:iam::…:user/…` or `arn:aws:sts::…:assumed-role/…/…`.
    pub arn: String,
    /// `AIDA…` or `AROA…:{session}` (GetCallerIdentity's `UserId`).
    pub user_id: String,
    /// The account id.
    pub account_id: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token the requests must carry; `None` for the long-term key.
    pub session_token: Option<Secret>,
    /// When the session ends; `None` for the long-term key.
    pub expiration: Option<DateTime<Utc>>,
    /// The identity policies: the user's policy, or the role's permission policy.
    pub policies: Vec<Policy>,
    /// A role session's inline session policy, which caps the role's permissions.
    pub session_policy: Option<Policy>,
}

impl Principal {
    /// Whether the session has ended at `now` (never for the long-term key).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expiration.is_some_and(|e| now >= e)
    }

    /// A request context for this principal doing `action` on `resource`, to which the
    /// caller adds condition keys.
    pub fn request(&self, action: &str, resource: &str) -> iam::RequestContext {
        iam::RequestContext::new(&self.arn, &self.account_id, action, resource)
    }

    /// Evaluates `ctx` against this principal's identity policies, capped by its session
    /// policy, together with the resource's policy (a bucket policy), if any.
    pub fn evaluate(
        &self,
        ctx: &iam::RequestContext,
        resource_policy: Option<&iam::PolicyDocument>,
    ) -> iam::Decision {
        let identity: Vec<&iam::PolicyDocument> =
            self.policies.iter().map(Policy::document).collect();
        iam::evaluate(
            &iam::Evaluation {
                identity: &identity,
                resource: resource_policy,
                session: self.session_policy.as_ref().map(Policy::document),
            },
            ctx,
        )
    }
}

impl crate::sigv4::SigningKey for Principal {
    fn secret_access_key(&self) -> &str {
        self.secret_access_key.expose()
    }

    fn session_token(&self) -> Option<&str> {
        self.session_token.as_ref().map(Secret::expose)
    }

    fn expiration(&self) -> Option<DateTime<Utc>> {
        self.expiration
    }
}

/// What [`AwsIdentity::issue`] hands out: a temporary key.
#[derive(Debug, Clone)]
pub struct TemporaryCredentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token requests must carry.
    pub session_token: Secret,
    /// When the session ends (whole seconds).
    pub expiration: DateTime<Utc>,
}

/// A request for a role session.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    /// The `RoleSessionName`.
    pub session_name: String,
    /// How long the session lasts.
    pub duration: Duration,
    /// An inline session policy.
    pub session_policy: Option<Policy>,
}

/// What is sealed in `aws/identity.bin`.
#[derive(Serialize, Deserialize)]
struct Stored {
    access_key_id: String,
    secret_access_key: String,
    external_id: String,
    user_id: String,
    role_id: String,
}

struct Session {
    session_name: String,
    secret_access_key: Secret,
    session_token: Secret,
    expiration: DateTime<Utc>,
    session_policy: Option<Policy>,
}

struct Inner {
    region: String,
    bucket: String,
    external_id: Secret,
    user: IamUser,
    role: Role,
    clock: Arc<dyn Clock>,
    session_lifetime: Option<Duration>,
    sessions: Mutex<HashMap<String, Session>>,
    issued: AtomicU64,
}

/// The dev AWS account: user, role, keys and sessions. Cheap to clone (shared).
#[derive(Clone)]
pub struct AwsIdentity {
    inner: Arc<Inner>,
}

impl fmt::Debug for AwsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsIdentity")
            .field("account_id", &ACCOUNT_ID)
            .field("user", &self.inner.user.arn)
            .field("role", &self.inner.role.arn)
            .finish_non_exhaustive()
    }
}

impl AwsIdentity {
    /// Opens the dev account in `config.dir`, creating the user's keys, the ExternalId and the
    /// unique ids on first start, and renders the policies from `deploy/aws/iam/`.
    pub fn open(config: &AwsIdentityConfig) -> Result<Self, DevError> {
        files::ensure_private_dir(&config.dir)?;
        let vault = Vault::open(&config.dir)?;
        let path = config.dir.join("identity.bin");
        let stored: Stored = match vault.open_from(&path)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| DevError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            None => {
                let stored = Stored {
                    access_key_id: key_id("AKIA", 16),
                    secret_access_key: secret_key(),
                    external_id: format!("bridge-dev-{}", uuid::Uuid::new_v4()),
                    user_id: key_id("AIDA", 17),
                    role_id: key_id("AROA", 17),
                };
                let bytes =
                    serde_json::to_vec(&stored).map_err(|e| DevError::Tls(e.to_string()))?;
                vault.seal_to(&path, &bytes)?;
                stored
            }
        };

        let deployment = iam::deploy::load(&iam::deploy::Values {
            account_id: ACCOUNT_ID,
            bucket_name: &config.bucket,
            external_id: &stored.external_id,
        })
        .map_err(|e| DevError::Config {
            path: PathBuf::from("deploy/aws/iam (built in)"),
            reason: e.to_string(),
        })?;
        let iam::deploy::Deployment { user: u, role: r } = deployment;
        let user = IamUser {
            policy: Policy::loaded(&u.policy_name, u.policy),
            name: u.name,
            arn: u.arn,
            user_id: stored.user_id,
            access_key_id: stored.access_key_id,
            secret_access_key: Secret::new(stored.secret_access_key),
        };
        let role = Role {
            trust_policy: Policy::loaded("trust policy", r.trust),
            permission_policy: Policy::loaded(&r.permission_policy_name, r.permissions),
            max_session_duration: Duration::from_secs(u64::from(r.max_session_duration)),
            name: r.name,
            arn: r.arn,
            role_id: stored.role_id,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                region: config.region.clone(),
                bucket: config.bucket.clone(),
                external_id: Secret::new(stored.external_id),
                user,
                role,
                clock: config.clock.clone(),
                session_lifetime: config.session_lifetime,
                sessions: Mutex::new(HashMap::new()),
                issued: AtomicU64::new(0),
            }),
        })
    }

    /// The account id, [`ACCOUNT_ID`].
    pub fn account_id(&self) -> &str {
        ACCOUNT_ID
    }

    /// The region of the local AWS services.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The documents bucket.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The ExternalId the role's trust policy requires.
    pub fn external_id(&self) -> &Secret {
        &self.inner.external_id
    }

    /// The IAM user, with its long-term key.
    pub fn user(&self) -> &IamUser {
        &self.inner.user
    }

    /// The role.
    pub fn role(&self) -> &Role {
        &self.inner.role
    }

    /// The role with this ARN, if it exists.
    pub fn role_by_arn(&self, arn: &str) -> Option<&Role> {
        (self.inner.role.arn == arn).then_some(&self.inner.role)
    }

    /// Now, by the configured clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Starts a session of the role and returns its temporary key. Counts as one AssumeRole
    /// (see [`AwsIdentity::assume_role_count`]). The caller has checked the trust policy and
    /// the duration.
    pub fn issue(&self, request: SessionRequest) -> TemporaryCredentials {
        let now = self.now();
        let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let duration = self.inner.session_lifetime.unwrap_or(request.duration);
        let expiration = now + TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX);
        let creds = TemporaryCredentials {
            access_key_id: key_id("ASIA", 16),
            secret_access_key: Secret::new(secret_key()),
            session_token: Secret::new(session_token()),
            expiration,
        };
        let mut sessions = self.sessions();
        sessions.retain(|_, s| s.expiration + FORGET_EXPIRED_AFTER > now);
        if sessions.len() >= MAX_SESSIONS {
            let mut by_expiry: Vec<(DateTime<Utc>, String)> = sessions
                .iter()
                .map(|(k, s)| (s.expiration, k.clone()))
                .collect();
            by_expiry.sort();
            for (_, k) in by_expiry.iter().take(sessions.len() + 1 - MAX_SESSIONS) {
                sessions.remove(k);
            }
        }
        sessions.insert(
            creds.access_key_id.clone(),
            Session {
                session_name: request.session_name,
                secret_access_key: creds.secret_access_key.clone(),
                session_token: creds.session_token.clone(),
                expiration,
                session_policy: request.session_policy,
            },
        );
        self.inner.issued.fetch_add(1, Ordering::Relaxed);
        creds
    }

    /// Who an access key belongs to: the user's long-term key or a role session (also an
    /// expired one, for a while, so that it can be told apart from an unknown key).
    pub fn lookup(&self, access_key_id: &str) -> Option<Principal> {
        let user = &self.inner.user;
        if access_key_id == user.access_key_id {
            return Some(Principal {
                kind: PrincipalKind::User,
                arn: user.arn.clone(),
                user_id: user.user_id.clone(),
                account_id: ACCOUNT_ID.to_owned(),
                access_key_id: user.access_key_id.clone(),
                secret_access_key: user.secret_access_key.clone(),
                session_token: None,
                expiration: None,
                policies: vec![user.policy.clone()],
                session_policy: None,
            });
        }
        let sessions = self.sessions();
        let s = sessions.get(access_key_id)?;
        let role = &self.inner.role;
        Some(Principal {
            kind: PrincipalKind::RoleSession {
                role_arn: role.arn.clone(),
                session_name: s.session_name.clone(),
            },
            arn: role.session_arn(&s.session_name),
            user_id: role.session_user_id(&s.session_name),
            account_id: ACCOUNT_ID.to_owned(),
            access_key_id: access_key_id.to_owned(),
            secret_access_key: s.secret_access_key.clone(),
            session_token: Some(s.session_token.clone()),
            expiration: Some(s.expiration),
            policies: vec![role.permission_policy.clone()],
            session_policy: s.session_policy.clone(),
        })
    }

    /// How many sessions were issued (successful AssumeRole calls) since start.
    pub fn assume_role_count(&self) -> u64 {
        self.inner.issued.load(Ordering::Relaxed)
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// Fills `buf` from the system RNG, falling back to UUID v4 bytes (also from the OS RNG).
fn random_fill(buf: &mut [u8]) {
    if SystemRandom::new().fill(buf).is_err() {
        for chunk in buf.chunks_mut(16) {
            let u = uuid::Uuid::new_v4();
            chunk.copy_from_slice(&u.as_bytes()[..chunk.len()]);
        }
    }
}

/// `prefix` and `n` characters of AWS's key-id alphabet (upper case and digits 2–7).
fn key_id(prefix: &str, n: usize) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = vec![0u8; n];
    random_fill(&mut bytes);
    let mut s = String::with_capacity(prefix.len() + n);
    s.push_str(prefix);
    // 256 is a multiple of 32, so every character is equally likely.
    s.extend(
        bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % 32])),
    );
    s
}

/// A 40-character secret access key (base64 of 30 random bytes, so with `+` and `/` at times,
/// like real ones).
fn secret_key() -> String {
    let mut bytes = [0u8; 30];
    random_fill(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An opaque session token: base64 of 160 random bytes (216 characters with `=` padding, `+`
/// and `/`), so clients that mangle them fail here first.
fn session_token() -> String {
    let mut bytes = [0u8; 160];
    random_fill(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_look_like_aws_ones() {
        let id = key_id("AKIA", 16);
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AKIA"));
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(secret_key().len(), 40);
        assert!(session_token().ends_with('='));
    }
}
