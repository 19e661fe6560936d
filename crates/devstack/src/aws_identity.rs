//! The dev AWS account: who exists in it, their keys, and the sessions the local STS issues.
//!
//! - The account id is [`ACCOUNT_ID`] (`000000000000`): twelve zeros cannot be a real account,
//!   so a dev ARN pasted into a real policy matches nothing.
//! - The IAM user (`btp-bridge`) and the role (`btp-bridge-s3`, its trust and permission
//!   policies and MaxSessionDuration) are those of `deploy/aws/iam/`, built into the binary by
//!   the `iam` crate (`iam::deploy`) and rendered with the dev values: the account id, the
//!   bucket (default [`DEFAULT_BUCKET`]) and a generated ExternalId. What runs locally is what
//!   gets deployed.
//! - The scheduled caller's identities are those of `deploy/aws/iam/caller-*.json` and
//!   `scheduler-*.json` (`iam::deploy::load_caller`), rendered with the dev account, the region
//!   and the secret name [`CALLER_SECRET_NAME`]: the Lambda function's execution role
//!   ([`AwsIdentity::caller_role`]; the local Lambda gets its session keys from
//!   [`AwsIdentity::issue_role_session`], as Lambda does by assuming it) and the Scheduler's
//!   role ([`AwsIdentity::scheduler_role`]).
//! - A dev-only operator user, [`OPERATOR_USER`], stands for whoever sets the account up: it
//!   may manage Secrets Manager secrets (create one, put a new value) and nothing else. The
//!   deployed user `btp-bridge` may not (its policy allows `sts:AssumeRole` only), so the aws
//!   CLI needs the operator's key to create or change a secret locally, as on AWS it needs an
//!   administrator's.
//! - The user's long-term key pair (`AKIA…`, a 40-character secret), the ExternalId and the
//!   unique ids (`AIDA…`, `AROA…`) are created on first start and sealed in `aws/identity.bin`
//!   by [`crate::vault::Vault`], so they survive restarts like the real ones.
//! - Sessions ([`AwsIdentity::issue`]) are kept in memory and, after every AssumeRole, sealed
//!   into `aws/sessions.bin` by the same vault (mode 0600, replaced atomically), so temporary
//!   credentials issued before a restart of `bridge dev` keep working until they expire, as
//!   at AWS. The file holds only live sessions: expired ones are dropped when it is loaded
//!   and when it is written. In memory an expired session is kept for a while longer (so its
//!   key answers `ExpiredToken` rather than `InvalidAccessKeyId`); at most [`MAX_SESSIONS`]
//!   are kept, and when more are issued the expired ones go first, then the oldest.
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

/// The name of the caller function's Secrets Manager secret in the dev account (the
/// `${SecretName}` of `deploy/aws/iam/caller-permission-policy.json`).
pub const CALLER_SECRET_NAME: &str = "btp-aws-bridge/caller/xsuaa";

/// The dev-only operator user (see the module doc).
pub const OPERATOR_USER: &str = "bridge-dev-operator";

/// The operator's identity policy: Secrets Manager in the dev account, nothing else.
const OPERATOR_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ManageSecrets","Effect":"Allow","Action":"secretsmanager:*","Resource":"arn:aws:secretsmanager:*:000000000000:secret:*"},{"Sid":"ListSecrets","Effect":"Allow","Action":"secretsmanager:ListSecrets","Resource":"*"}]}"#;

/// The `roleSessionName` of the generated `aws-config` binding.
pub const ROLE_SESSION_NAME: &str = "bridge-dev";

/// The longest session a role session may get by assuming a role (role chaining).
pub const ROLE_CHAINING_MAX: Duration = Duration::from_secs(3600);

/// Sessions whose expiry is longer ago than this are forgotten.
const FORGET_EXPIRED_AFTER: TimeDelta = TimeDelta::hours(12);

/// At most this many sessions are kept (in memory and in `sessions.bin`); expired ones go
/// first, then the oldest.
pub const MAX_SESSIONS: usize = 10_000;

/// The file the sessions are sealed in, inside [`AwsIdentityConfig::dir`].
const SESSIONS_FILE: &str = "sessions.bin";

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
    /// A role of `deploy/aws/iam/` with its unique id.
    fn loaded(r: iam::deploy::Role, role_id: String) -> Self {
        Self {
            trust_policy: Policy::loaded("trust policy", r.trust),
            permission_policy: Policy::loaded(&r.permission_policy_name, r.permissions),
            max_session_duration: Duration::from_secs(u64::from(r.max_session_duration)),
            name: r.name,
            arn: r.arn,
            role_id,
        }
    }

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
    /// Added with the scheduled caller: absent in data directories made before; created then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    caller_role_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scheduler_role_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operator: Option<StoredKey>,
}

/// The operator user's key and unique id.
#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    access_key_id: String,
    secret_access_key: String,
    user_id: String,
}

struct Session {
    /// The name of the role it is a session of.
    role_name: String,
    session_name: String,
    secret_access_key: Secret,
    session_token: Secret,
    /// When AssumeRole issued it (for "the oldest go first").
    issued_at: DateTime<Utc>,
    expiration: DateTime<Utc>,
    session_policy: Option<Policy>,
}

/// A session as sealed in `aws/sessions.bin` (times in Unix milliseconds).
#[derive(Serialize, Deserialize)]
struct StoredSession {
    access_key_id: String,
    /// The role's name; absent in files written before there was more than one role: the S3
    /// role then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role_name: Option<String>,
    session_name: String,
    secret_access_key: String,
    session_token: String,
    issued_at_ms: i64,
    expiration_ms: i64,
    /// The inline session policy's JSON, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_policy: Option<String>,
}

struct Inner {
    region: String,
    bucket: String,
    external_id: Secret,
    user: IamUser,
    operator: IamUser,
    role: Role,
    caller_role: Role,
    scheduler_role: Role,
    clock: Arc<dyn Clock>,
    session_lifetime: Option<Duration>,
    /// Seals `sessions_path`.
    vault: Vault,
    sessions_path: PathBuf,
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
        let stored: Stored = vault.load_or_create_json(&path, || {
            Ok(Stored {
                access_key_id: key_id("AKIA", 16),
                secret_access_key: secret_key(),
                external_id: format!("bridge-dev-{}", uuid::Uuid::new_v4()),
                user_id: key_id("AIDA", 17),
                role_id: key_id("AROA", 17),
                caller_role_id: Some(key_id("AROA", 17)),
                scheduler_role_id: Some(key_id("AROA", 17)),
                operator: Some(new_operator_key()),
            })
        })?;
        let stored = complete(&vault, &path, stored)?;

        let deployment = iam::deploy::load(&iam::deploy::Values {
            account_id: ACCOUNT_ID,
            bucket_name: &config.bucket,
            external_id: &stored.external_id,
        })
        .map_err(|e| DevError::Config {
            path: PathBuf::from("deploy/aws/iam (built in)"),
            reason: e.to_string(),
        })?;
        let callers = iam::deploy::load_caller(&iam::deploy::CallerValues {
            account_id: ACCOUNT_ID,
            region: &config.region,
            secret_name: CALLER_SECRET_NAME,
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
        let role = Role::loaded(r, stored.role_id.clone());
        let caller_role = Role::loaded(
            callers.caller,
            stored.caller_role_id.clone().unwrap_or_default(),
        );
        let scheduler_role = Role::loaded(
            callers.scheduler,
            stored.scheduler_role_id.clone().unwrap_or_default(),
        );
        let operator_key = stored.operator.clone().unwrap_or_else(new_operator_key);
        let operator = IamUser {
            name: OPERATOR_USER.to_owned(),
            arn: format!("arn:aws:iam::{ACCOUNT_ID}:user/{OPERATOR_USER}"),
            user_id: operator_key.user_id,
            policy: Policy::session(OPERATOR_POLICY)
                .map(|p| Policy {
                    name: "bridge-dev-operator-secrets".to_owned(),
                    ..p
                })
                .map_err(|e| DevError::Config {
                    path: PathBuf::from("the operator's policy (built in)"),
                    reason: e.to_string(),
                })?,
            access_key_id: operator_key.access_key_id,
            secret_access_key: Secret::new(operator_key.secret_access_key),
        };
        let sessions_path = config.dir.join(SESSIONS_FILE);
        let sessions = load_sessions(&vault, &sessions_path, config.clock.now(), &role.name)?;
        Ok(Self {
            inner: Arc::new(Inner {
                region: config.region.clone(),
                bucket: config.bucket.clone(),
                external_id: Secret::new(stored.external_id),
                user,
                operator,
                role,
                caller_role,
                scheduler_role,
                clock: config.clock.clone(),
                session_lifetime: config.session_lifetime,
                vault,
                sessions_path,
                sessions: Mutex::new(sessions),
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

    /// The caller Lambda function's execution role (`deploy/aws/iam/caller-role.json`).
    pub fn caller_role(&self) -> &Role {
        &self.inner.caller_role
    }

    /// The role EventBridge Scheduler assumes for the schedules
    /// (`deploy/aws/iam/scheduler-role.json`).
    pub fn scheduler_role(&self) -> &Role {
        &self.inner.scheduler_role
    }

    /// The dev-only operator user, which may manage Secrets Manager secrets (see the module
    /// doc).
    pub fn operator(&self) -> &IamUser {
        &self.inner.operator
    }

    /// Every role of the account: the S3 role, the caller's and the Scheduler's.
    pub fn roles(&self) -> [&Role; 3] {
        [
            &self.inner.role,
            &self.inner.caller_role,
            &self.inner.scheduler_role,
        ]
    }

    /// The role with this ARN, if it exists.
    pub fn role_by_arn(&self, arn: &str) -> Option<&Role> {
        self.roles().into_iter().find(|r| r.arn == arn)
    }

    /// The role with this name, if it exists.
    pub fn role_by_name(&self, name: &str) -> Option<&Role> {
        self.roles().into_iter().find(|r| r.name == name)
    }

    /// Starts a session of the role named `role_name` for a service of the dev account, the
    /// way Lambda assumes a function's execution role (no trust check: the service is the
    /// trusted principal), and returns its temporary key: what the local Lambda hands the
    /// function as `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
    /// The session is registered and sealed like an AssumeRole session, so every local AWS
    /// service authorizes its requests by the role's permission policy. `None` for an unknown
    /// role. Does not count as an AssumeRole call.
    pub fn issue_role_session(
        &self,
        role_name: &str,
        session_name: &str,
        duration: Duration,
    ) -> Option<TemporaryCredentials> {
        let role = self.role_by_name(role_name)?.name.clone();
        Some(self.issue_for(
            role,
            SessionRequest {
                session_name: session_name.to_owned(),
                duration,
                session_policy: None,
            },
        ))
    }

    /// Now, by the configured clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Starts a session of the role and returns its temporary key. Counts as one AssumeRole
    /// (see [`AwsIdentity::assume_role_count`]). The caller has checked the trust policy and
    /// the duration.
    ///
    /// The registry is sealed into `sessions.bin` before this returns. If that fails (a full
    /// disk), the error is logged and the session works until `bridge dev` stops.
    pub fn issue(&self, request: SessionRequest) -> TemporaryCredentials {
        let creds = self.issue_for(self.inner.role.name.clone(), request);
        self.inner.issued.fetch_add(1, Ordering::Relaxed);
        creds
    }

    /// Issues and registers a session of the role named `role_name`.
    fn issue_for(&self, role_name: String, request: SessionRequest) -> TemporaryCredentials {
        let issued_at = self.now();
        let now = DateTime::from_timestamp(issued_at.timestamp(), 0).unwrap_or(issued_at);
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
        make_room(&mut sessions, MAX_SESSIONS - 1, now);
        sessions.insert(
            creds.access_key_id.clone(),
            Session {
                role_name,
                session_name: request.session_name,
                secret_access_key: creds.secret_access_key.clone(),
                session_token: creds.session_token.clone(),
                issued_at,
                expiration,
                session_policy: request.session_policy,
            },
        );
        // Written under the lock, so concurrent AssumeRoles cannot overwrite a newer file
        // with an older registry.
        if let Err(e) = save_sessions(&self.inner.vault, &self.inner.sessions_path, &sessions, now)
        {
            tracing::error!(error = %e, "local sts cannot persist its sessions; they last until bridge dev stops");
        }
        drop(sessions);
        creds
    }

    /// Who an access key belongs to: the user's long-term key or a role session (also an
    /// expired one, for a while, so that it can be told apart from an unknown key).
    pub fn lookup(&self, access_key_id: &str) -> Option<Principal> {
        for user in [&self.inner.user, &self.inner.operator] {
            if access_key_id != user.access_key_id {
                continue;
            }
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
        let role = self.role_by_name(&s.role_name)?;
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

/// A new operator key.
fn new_operator_key() -> StoredKey {
    StoredKey {
        access_key_id: key_id("AKIA", 16),
        secret_access_key: secret_key(),
        user_id: key_id("AIDA", 17),
    }
}

/// Fills in what a data directory made before the scheduled caller lacks (the caller's and the
/// Scheduler's role ids, the operator's key) and seals the completed file.
fn complete(vault: &Vault, path: &std::path::Path, mut stored: Stored) -> Result<Stored, DevError> {
    if stored.caller_role_id.is_some()
        && stored.scheduler_role_id.is_some()
        && stored.operator.is_some()
    {
        return Ok(stored);
    }
    stored
        .caller_role_id
        .get_or_insert_with(|| key_id("AROA", 17));
    stored
        .scheduler_role_id
        .get_or_insert_with(|| key_id("AROA", 17));
    stored.operator.get_or_insert_with(new_operator_key);
    vault.seal_json(path, &stored)?;
    Ok(stored)
}

/// Removes sessions until at most `keep` are left: expired ones (at `now`) first, then the
/// oldest.
fn make_room(sessions: &mut HashMap<String, Session>, keep: usize, now: DateTime<Utc>) {
    if sessions.len() <= keep {
        return;
    }
    let mut order: Vec<(bool, DateTime<Utc>, String)> = sessions
        .iter()
        .map(|(k, s)| (s.expiration > now, s.issued_at, k.clone()))
        .collect();
    order.sort();
    let excess = sessions.len() - keep;
    for (_, _, k) in order.into_iter().take(excess) {
        sessions.remove(&k);
    }
}

/// The live sessions (at `now`) sealed in `path`; none if the file does not exist yet. A
/// session whose session policy no longer parses is dropped, never loaded without its cap.
fn load_sessions(
    vault: &Vault,
    path: &std::path::Path,
    now: DateTime<Utc>,
    default_role: &str,
) -> Result<HashMap<String, Session>, DevError> {
    let Some(stored) = vault.open_json::<Vec<StoredSession>>(path)? else {
        return Ok(HashMap::new());
    };
    let mut sessions = HashMap::with_capacity(stored.len());
    for s in stored {
        let (Some(issued_at), Some(expiration)) = (
            DateTime::from_timestamp_millis(s.issued_at_ms),
            DateTime::from_timestamp_millis(s.expiration_ms),
        ) else {
            continue;
        };
        if expiration <= now {
            continue;
        }
        let session_policy = match s.session_policy.as_deref().map(Policy::session) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => continue,
        };
        sessions.insert(
            s.access_key_id,
            Session {
                role_name: s.role_name.unwrap_or_else(|| default_role.to_owned()),
                session_name: s.session_name,
                secret_access_key: Secret::new(s.secret_access_key),
                session_token: Secret::new(s.session_token),
                issued_at,
                expiration,
                session_policy,
            },
        );
    }
    make_room(&mut sessions, MAX_SESSIONS, now);
    Ok(sessions)
}

/// Seals the live sessions (at `now`) into `path`, atomically and with mode 0600.
fn save_sessions(
    vault: &Vault,
    path: &std::path::Path,
    sessions: &HashMap<String, Session>,
    now: DateTime<Utc>,
) -> Result<(), DevError> {
    let stored: Vec<StoredSession> = sessions
        .iter()
        .filter(|(_, s)| s.expiration > now)
        .map(|(k, s)| StoredSession {
            access_key_id: k.clone(),
            role_name: Some(s.role_name.clone()),
            session_name: s.session_name.clone(),
            secret_access_key: s.secret_access_key.expose().to_owned(),
            session_token: s.session_token.expose().to_owned(),
            issued_at_ms: s.issued_at.timestamp_millis(),
            expiration_ms: s.expiration.timestamp_millis(),
            session_policy: s.session_policy.as_ref().map(|p| p.json().to_owned()),
        })
        .collect();
    vault.seal_json(path, &stored)
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
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn open(dir: &std::path::Path, clock: &Arc<ManualClock>) -> AwsIdentity {
        let mut config = AwsIdentityConfig::new(dir);
        config.clock = clock.clone();
        AwsIdentity::open(&config).unwrap()
    }

    fn request(name: &str, secs: u64, policy: Option<&str>) -> SessionRequest {
        SessionRequest {
            session_name: name.to_owned(),
            duration: Duration::from_secs(secs),
            session_policy: policy.map(|p| Policy::session(p).unwrap()),
        }
    }

    #[test]
    fn sessions_are_sealed_and_reloaded_without_the_expired_ones() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let id = open(dir.path(), &clock);
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let short = id.issue(request("short", 900, None));
        let long = id.issue(request("long", 3600, Some(policy)));
        let sealed = std::fs::read(dir.path().join(SESSIONS_FILE)).unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains(&long.access_key_id));
        assert!(!text.contains(long.session_token.expose()));

        // The same moment: both come back, with their secrets, token and session policy.
        let again = open(dir.path(), &clock);
        let p = again.lookup(&long.access_key_id).unwrap();
        assert_eq!(
            p.kind,
            PrincipalKind::RoleSession {
                role_arn: again.role().arn.clone(),
                session_name: "long".into()
            }
        );
        assert_eq!(
            p.secret_access_key.expose(),
            long.secret_access_key.expose()
        );
        assert_eq!(
            p.session_token.as_ref().map(Secret::expose),
            Some(long.session_token.expose())
        );
        assert_eq!(p.expiration, Some(long.expiration));
        assert_eq!(p.session_policy.as_ref().map(Policy::json), Some(policy));
        assert!(again.lookup(&short.access_key_id).is_some());

        // After the short one ended, loading drops it, and so does the next save.
        clock.advance(Duration::from_secs(901));
        let later = open(dir.path(), &clock);
        assert!(later.lookup(&short.access_key_id).is_none());
        assert!(later.lookup(&long.access_key_id).is_some());
        let _ = id.issue(request("third", 900, None));
        let bytes = Vault::open(dir.path())
            .unwrap()
            .open_from(&dir.path().join(SESSIONS_FILE))
            .unwrap()
            .unwrap();
        let stored: Vec<StoredSession> = serde_json::from_slice(&bytes).unwrap();
        let mut names: Vec<&str> = stored.iter().map(|s| s.session_name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["long", "third"]);
        // In memory the ended session is still known (it answers ExpiredToken).
        assert!(id.lookup(&short.access_key_id).is_some());
    }

    #[test]
    fn role_sessions_of_the_caller_role_carry_its_policy_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let id = open(dir.path(), &clock);
        let caller = id.caller_role().clone();
        assert_eq!(caller.name, iam::deploy::CALLER_FUNCTION_NAME);
        assert!(
            id.issue_role_session("no-such-role", "x", Duration::from_secs(900))
                .is_none()
        );
        let creds = id
            .issue_role_session(&caller.name, "fn", Duration::from_secs(900))
            .unwrap();
        assert_eq!(id.assume_role_count(), 0);
        let check = |id: &AwsIdentity| {
            let p = id.lookup(&creds.access_key_id).unwrap();
            assert_eq!(p.arn, caller.session_arn("fn"));
            assert_eq!(
                p.kind,
                PrincipalKind::RoleSession {
                    role_arn: caller.arn.clone(),
                    session_name: "fn".into()
                }
            );
            let secret = format!(
                "arn:aws:secretsmanager:{DEFAULT_REGION}:{ACCOUNT_ID}:secret:{CALLER_SECRET_NAME}-AbCdEf"
            );
            assert!(
                p.evaluate(&p.request("secretsmanager:GetSecretValue", &secret), None)
                    .is_allowed()
            );
            assert!(
                !p.evaluate(&p.request("s3:ListAllMyBuckets", "*"), None)
                    .is_allowed()
            );
        };
        check(&id);
        let again = open(dir.path(), &clock);
        check(&again);
        // The ids and the operator's key stay what they were.
        assert_eq!(again.caller_role().role_id, caller.role_id);
        assert_eq!(again.operator().access_key_id, id.operator().access_key_id);
        assert_eq!(
            id.role_by_arn(&id.scheduler_role().arn).unwrap().name,
            "btp-aws-bridge-scheduler"
        );
    }

    #[test]
    fn a_data_directory_from_before_the_caller_gets_its_roles_and_operator() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let old = r#"{"access_key_id":"AKIAOLDOLDOLDOLDOLDO","secret_access_key":"s","external_id":"ext-id","user_id":"AIDAOLD","role_id":"AROAOLD"}"#;
        vault
            .seal_to(&dir.path().join("identity.bin"), old.as_bytes())
            .unwrap();
        // An old session (no role name) is one of the S3 role.
        let session = format!(
            r#"[{{"access_key_id":"ASIAOLD","session_name":"old","secret_access_key":"k","session_token":"t","issued_at_ms":0,"expiration_ms":{}}}]"#,
            (Utc::now() + TimeDelta::hours(1)).timestamp_millis()
        );
        vault
            .seal_to(&dir.path().join(SESSIONS_FILE), session.as_bytes())
            .unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let id = open(dir.path(), &clock);
        assert_eq!(id.user().access_key_id, "AKIAOLDOLDOLDOLDOLDO");
        assert!(id.caller_role().role_id.starts_with("AROA"));
        assert!(id.operator().access_key_id.starts_with("AKIA"));
        let p = id.lookup("ASIAOLD").unwrap();
        assert_eq!(p.arn, id.role().session_arn("old"));
        let again = open(dir.path(), &clock);
        assert_eq!(again.caller_role().role_id, id.caller_role().role_id);
        assert_eq!(again.operator().access_key_id, id.operator().access_key_id);
    }

    #[test]
    fn the_registry_drops_expired_sessions_then_the_oldest() {
        let now = Utc::now();
        let session = |issued_secs: i64, expires_secs: i64| Session {
            role_name: "r".into(),
            session_name: "s".into(),
            secret_access_key: Secret::new("x".to_owned()),
            session_token: Secret::new("t".to_owned()),
            issued_at: now + TimeDelta::seconds(issued_secs),
            expiration: now + TimeDelta::seconds(expires_secs),
            session_policy: None,
        };
        let mut sessions = HashMap::new();
        sessions.insert("oldest".to_owned(), session(-300, 600));
        sessions.insert("expired".to_owned(), session(-100, -1));
        sessions.insert("newer".to_owned(), session(-200, 600));
        sessions.insert("newest".to_owned(), session(-10, 600));
        make_room(&mut sessions, 3, now);
        assert!(!sessions.contains_key("expired"));
        make_room(&mut sessions, 2, now);
        let mut left: Vec<&str> = sessions.keys().map(String::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["newer", "newest"]);
        make_room(&mut sessions, 5, now);
        assert_eq!(sessions.len(), 2);
    }

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
