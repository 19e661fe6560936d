//! The local AWS Secrets Manager: the awsJson1.1 protocol of
//! `https://secretsmanager.{region}.amazonaws.com` for the dev account of
//! [`crate::aws_identity`], where the caller Lambda function's XSUAA service key lives.
//!
//! - `POST /` with `Content-Type: application/x-amz-json-1.1` and
//!   `X-Amz-Target: secretsmanager.{Operation}`; the operations are `CreateSecret`,
//!   `GetSecretValue`, `PutSecretValue` and `DescribeSecret` (AWS Secrets Manager API
//!   Reference). Unknown JSON members are ignored, as the service does.
//! - Every request is signed with SigV4 for the service `secretsmanager` and the configured
//!   region ([`crate::sigv4`]), by the IAM user, the operator user or a role session (whose
//!   token is checked), and authorized with `iam::evaluate` against the caller's policies: the
//!   action `secretsmanager:{Operation}` on the secret's ARN (for a secret that does not exist,
//!   the ARN its name would have without the suffix, so a caller learns nothing about secrets it
//!   may not read). The caller function's role may read its one secret and nothing else; the
//!   deployed user `btp-bridge` may do nothing here; the operator user may manage secrets.
//! - Secrets get ARNs `arn:aws:secretsmanager:{region}:{account}:secret:{name}-{6 random
//!   characters}`; every value is a version with an id (the `ClientRequestToken` if given,
//!   else a UUID) and staging labels: a new value becomes `AWSCURRENT` and the one before
//!   `AWSPREVIOUS`. Dates are epoch seconds with a fraction, as the service sends them.
//! - Secrets are sealed at rest by [`crate::vault::Vault`] in `secrets/secrets.bin` (mode 0600,
//!   replaced atomically, written before the answer), so they survive restarts.
//!
//! Errors are JSON `{"__type": …, "message": …}` with status 400 and the request id in
//! `x-amzn-RequestId`: `ResourceNotFoundException` ("Secrets Manager can't find the specified
//! secret."), `ResourceExistsException`, `AccessDeniedException`, `ValidationException` (a
//! missing or malformed parameter, in Coral's "1 validation error detected: …" wording),
//! `InvalidRequestException`, `InvalidParameterException`, `LimitExceededException`;
//! `SerializationException` for a body that is not a JSON object,
//! `UnknownOperationException` for a target it does not know; authentication failures as the
//! JSON services answer them (`MissingAuthenticationTokenException`,
//! `IncompleteSignatureException`, `InvalidSignatureException`,
//! `UnrecognizedClientException`, `ExpiredTokenException`). A body over the limit is 413.
//!
//! Each request is logged once: operation, status, error code, the caller's ARN, the secret's
//! name and the request id. Secret values, keys, tokens and bodies are never logged, and no
//! error message quotes a value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use cfenv::text::prefix;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::aws_identity::{ACCOUNT_ID, AwsIdentity, Principal};
use crate::error::DevError;
use crate::files;
use crate::sigv4::{self, PathRule, Service, SigV4Error};
use crate::vault::Vault;

/// The SigV4 signing name.
pub const SIGNING_NAME: &str = "secretsmanager";

/// The `X-Amz-Target` prefix.
pub const TARGET_PREFIX: &str = "secretsmanager.";

/// The label of a secret's current version.
pub const AWSCURRENT: &str = "AWSCURRENT";

/// The label of the version before the current one.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// Largest request body accepted: a secret value is at most 65 536 bytes, base64 of a binary
/// one a third more.
const MAX_BODY: usize = 128 * 1024;

/// Largest `SecretString` / decoded `SecretBinary`, in bytes (the service's quota).
const MAX_VALUE: usize = 65_536;

/// At most this many secrets are kept (`LimitExceededException` beyond).
pub const MAX_SECRETS: usize = 1000;

/// At most this many versions are kept per secret; the oldest unlabelled ones go first.
const MAX_VERSIONS: usize = 20;

/// The operations that may appear in the log line.
const OPERATIONS: &[&str] = &[
    "CreateSecret",
    "GetSecretValue",
    "PutSecretValue",
    "DescribeSecret",
];

/// The file the secrets are sealed in.
const SECRETS_FILE: &str = "secrets.bin";

/// A stored secret value (no `Debug`: it holds the value).
#[derive(Clone, Serialize, Deserialize)]
struct StoredVersion {
    id: String,
    stages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    string: Option<String>,
    /// Base64, as on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    binary: Option<String>,
    created_ms: i64,
}

/// A stored secret with its versions, oldest first.
#[derive(Clone, Serialize, Deserialize)]
struct StoredSecret {
    name: String,
    arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    created_ms: i64,
    changed_ms: i64,
    versions: Vec<StoredVersion>,
}

impl StoredSecret {
    fn version_with_stage(&self, stage: &str) -> Option<&StoredVersion> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// Adds `version` with `stages`, moving each label off the version that had it; when
    /// `AWSCURRENT` moves, the version that had it becomes `AWSPREVIOUS`.
    fn add_version(&mut self, mut version: StoredVersion, stages: Vec<String>) {
        let moves_current = stages.iter().any(|s| s == AWSCURRENT);
        let old_current = self.version_with_stage(AWSCURRENT).map(|v| v.id.clone());
        for v in &mut self.versions {
            v.stages.retain(|s| !stages.contains(s));
        }
        if moves_current && let Some(old) = old_current {
            for v in &mut self.versions {
                v.stages.retain(|s| s != AWSPREVIOUS);
                if v.id == old {
                    v.stages.push(AWSPREVIOUS.to_owned());
                }
            }
        }
        version.stages = stages;
        self.changed_ms = version.created_ms;
        self.versions.push(version);
        while self.versions.len() > MAX_VERSIONS {
            match self.versions.iter().position(|v| v.stages.is_empty()) {
                Some(i) => {
                    self.versions.remove(i);
                }
                None => break,
            }
        }
    }
}

struct Inner {
    identity: AwsIdentity,
    vault: Vault,
    path: PathBuf,
    secrets: Mutex<BTreeMap<String, StoredSecret>>,
}

/// The local Secrets Manager: its state and its routes. Cheap to clone (shared).
#[derive(Clone)]
pub struct LocalSecrets {
    inner: Arc<Inner>,
}

impl fmt::Debug for LocalSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSecrets")
            .field("dir", &self.inner.path.parent())
            .finish_non_exhaustive()
    }
}

impl LocalSecrets {
    /// Opens the secrets sealed in `dir` (the data directory's `secrets/`, see
    /// [`crate::layout::secrets_dir`]), creating the directory on first start, for the account
    /// of `identity`.
    pub fn open(dir: &Path, identity: AwsIdentity) -> Result<Self, DevError> {
        files::ensure_private_dir(dir)?;
        let vault = Vault::open(dir)?;
        let path = dir.join(SECRETS_FILE);
        let stored: Vec<StoredSecret> = vault.open_json(&path)?.unwrap_or_default();
        let secrets = stored.into_iter().map(|s| (s.name.clone(), s)).collect();
        Ok(Self {
            inner: Arc::new(Inner {
                identity,
                vault,
                path,
                secrets: Mutex::new(secrets),
            }),
        })
    }

    /// The account behind it.
    pub fn identity(&self) -> &AwsIdentity {
        &self.inner.identity
    }

    /// The HTTP routes (everything is on `/`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", any(handle))
            .fallback(handle)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.clone())
    }

    /// Stores `value` as the current value of the secret `name`, creating the secret if it does
    /// not exist (what the dev stack does at start with the caller's XSUAA service key), and
    /// returns the secret's ARN. No IAM check: this is the operator at the console.
    pub fn put_secret_string(&self, name: &str, value: &str) -> Result<String, DevError> {
        let config = || DevError::Config {
            path: self.inner.path.clone(),
            reason: format!("cannot store the secret {}", prefix(name, 64)),
        };
        if !valid_name(name) || value.is_empty() || value.len() > MAX_VALUE {
            return Err(config());
        }
        let now = self.inner.identity.now().timestamp_millis();
        let mut secrets = self.secrets();
        let version = StoredVersion {
            id: uuid::Uuid::new_v4().to_string(),
            stages: Vec::new(),
            string: Some(value.to_owned()),
            binary: None,
            created_ms: now,
        };
        let current = secrets
            .get(name)
            .and_then(|s| s.version_with_stage(AWSCURRENT))
            .and_then(|v| v.string.as_deref());
        if current == Some(value) {
            // Unchanged: keep the version, so restarts do not pile up versions.
            return Ok(secrets.get(name).map(|s| s.arn.clone()).unwrap_or_default());
        }
        if !secrets.contains_key(name) && secrets.len() >= MAX_SECRETS {
            return Err(config());
        }
        let region = self.inner.identity.region().to_owned();
        let secret = secrets
            .entry(name.to_owned())
            .or_insert_with(|| StoredSecret {
                name: name.to_owned(),
                arn: secret_arn(&region, name),
                description: None,
                created_ms: now,
                changed_ms: now,
                versions: Vec::new(),
            });
        secret.add_version(version, vec![AWSCURRENT.to_owned()]);
        let arn = secret.arn.clone();
        self.save(&secrets)?;
        Ok(arn)
    }

    /// The ARN of the secret `name`, if it exists.
    pub fn secret_arn(&self, name: &str) -> Option<String> {
        self.secrets().get(name).map(|s| s.arn.clone())
    }

    fn secrets(&self) -> MutexGuard<'_, BTreeMap<String, StoredSecret>> {
        self.inner.secrets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self, secrets: &BTreeMap<String, StoredSecret>) -> Result<(), DevError> {
        let all: Vec<&StoredSecret> = secrets.values().collect();
        self.inner.vault.seal_json(&self.inner.path, &all)
    }
}

// ---------------------------------------------------------------------------------------------
// Refusal

/// A refused request: the one place where failures become HTTP responses.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    fn not_found() -> Self {
        Self::new(
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        )
    }

    /// Coral's wording for a parameter that breaks the model's constraints.
    fn validation(field: &str, constraint: &str) -> Self {
        Self::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value at '{field}' failed to satisfy constraint: \
                 Member {constraint}"
            ),
        )
    }

    fn missing(field: &str) -> Self {
        Self::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value null at '{field}' failed to satisfy \
                 constraint: Member must not be null"
            ),
        )
    }

    fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalServiceError",
            message: "The local Secrets Manager could not store the secret.".to_owned(),
        }
    }

    fn into_response(self, request_id: &str) -> Response {
        let body = json!({ "__type": self.code, "message": self.message });
        let mut resp = json_response(self.status, &body, request_id);
        resp.extensions_mut().insert(ErrorCode(self.code));
        resp
    }
}

impl From<SigV4Error> for Refusal {
    fn from(e: SigV4Error) -> Self {
        // Secrets Manager (JSON 1.1) answers every signature refusal but a missing one 400.
        let status = if matches!(e, SigV4Error::Missing) {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            status,
            code: e.json_code(),
            message: e.to_string(),
        }
    }
}

/// The error code of a refused request, for the log line.
#[derive(Clone, Copy)]
struct ErrorCode(&'static str);

/// The caller's ARN and the secret's name, for the log line.
#[derive(Clone, Default)]
struct LogFields {
    caller: Option<String>,
    secret: Option<String>,
}

fn json_response(status: StatusCode, body: &Value, request_id: &str) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// Handler

/// The handler of every request. The body is taken as a `Result`, so that axum's plain-text
/// rejection of an oversized body becomes a JSON error too.
async fn handle(
    State(secrets): State<LocalSecrets>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let operation = target(&headers).and_then(|t| OPERATIONS.iter().find(|o| **o == t).copied());
    let mut fields = LogFields::default();
    let resp = match serve(&secrets, &method, &uri, &headers, body, &mut fields) {
        Ok(body) => json_response(StatusCode::OK, &body, &request_id),
        Err(refusal) => refusal.into_response(&request_id),
    };
    let status = resp.status().as_u16();
    let code = resp.extensions().get::<ErrorCode>().map(|c| c.0);
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if status >= 500 {
        tracing::warn!(http.method = %method, secretsmanager.operation = operation,
            http.status = status, aws.error_code = code, aws.caller_arn = fields.caller.as_deref(),
            secret.name = fields.secret.as_deref(), aws.request_id = %request_id, duration_ms,
            "local secrets manager request failed");
    } else {
        tracing::info!(http.method = %method, secretsmanager.operation = operation,
            http.status = status, aws.error_code = code, aws.caller_arn = fields.caller.as_deref(),
            secret.name = fields.secret.as_deref(), aws.request_id = %request_id, duration_ms,
            "local secrets manager request");
    }
    resp
}

/// The operation named by `X-Amz-Target`, without the service prefix.
fn target(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
}

fn serve(
    secrets: &LocalSecrets,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    fields: &mut LogFields,
) -> Result<Value, Refusal> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "RequestEntityTooLargeException",
                message: "The request body is larger than 128 KiB.".to_owned(),
            }
        } else {
            Refusal::new(
                "SerializationException",
                "The request body could not be read.",
            )
        }
    })?;
    if *method != Method::POST {
        return Err(Refusal::new(
            "UnknownOperationException",
            "Only POST / with an X-Amz-Target header is supported.",
        ));
    }
    let identity = &secrets.inner.identity;
    let payload_hash = sigv4::payload_hash(&body);
    let request = sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        authority: uri.authority().map(|a| a.as_str()),
        headers,
        payload_hash: &payload_hash,
    };
    let service = Service {
        name: SIGNING_NAME,
        region: identity.region(),
        path_rule: PathRule::NormalizeAndDoubleEncode,
    };
    let caller = sigv4::verify(&request, &service, identity.now(), |id| identity.lookup(id))?.key;
    fields.caller = Some(caller.arn.clone());

    let Some(operation) = target(headers) else {
        return Err(Refusal::new(
            "UnknownOperationException",
            "The X-Amz-Target header must name a Secrets Manager operation \
             (secretsmanager.GetSecretValue, …).",
        ));
    };
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with("application/x-amz-json-1."));
    if !json_type {
        return Err(Refusal::new(
            "SerializationException",
            "The Content-Type must be application/x-amz-json-1.1.",
        ));
    }
    let op: Operation = match operation {
        "CreateSecret" => create_secret,
        "GetSecretValue" => get_secret_value,
        "PutSecretValue" => put_secret_value,
        "DescribeSecret" => describe_secret,
        other => {
            return Err(Refusal::new(
                "UnknownOperationException",
                format!(
                    "The local Secrets Manager does not support the operation {}.",
                    prefix(other, 64)
                ),
            ));
        }
    };
    let params = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(Refusal::new(
                "SerializationException",
                "The request body must be a JSON object.",
            ));
        }
        Err(e) => {
            return Err(Refusal::new(
                "SerializationException",
                format!(
                    "The request body is not valid JSON (line {}, column {}).",
                    e.line(),
                    e.column()
                ),
            ));
        }
    };
    op(
        secrets,
        &Call {
            caller: &caller,
            operation,
            params: &params,
        },
        fields,
    )
}

/// One authenticated call.
struct Call<'a> {
    caller: &'a Principal,
    operation: &'a str,
    params: &'a Map<String, Value>,
}

impl Call<'_> {
    /// An optional string parameter.
    fn string(&self, field: &str, wire: &str) -> Result<Option<&str>, Refusal> {
        match self.params.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Refusal::new(
                "SerializationException",
                format!("The member {wire} must be a string."),
            )),
        }
    }

    /// A required string parameter.
    fn required(&self, field: &str, wire: &str) -> Result<&str, Refusal> {
        match self.string(field, wire)? {
            Some(s) if !s.is_empty() => Ok(s),
            Some(_) => Err(Refusal::validation(
                wire,
                "must have length greater than or equal to 1",
            )),
            None => Err(Refusal::missing(wire)),
        }
    }

    /// Refuses unless the caller may do this operation on `resource`.
    fn authorize(&self, resource: &str, shown: &str) -> Result<(), Refusal> {
        let action = format!("secretsmanager:{}", self.operation);
        let ctx = self.caller.request(&action, resource);
        let decision = self.caller.evaluate(&ctx, None);
        if decision.is_allowed() {
            return Ok(());
        }
        let why = if matches!(decision, iam::Decision::ExplicitDeny { .. }) {
            "with an explicit deny in an identity-based policy".to_owned()
        } else {
            format!("because no identity-based policy allows the {action} action")
        };
        Err(Refusal::new(
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: {action} on resource: {} {why}",
                self.caller.arn,
                prefix(shown, 600)
            ),
        ))
    }
}

type Operation = fn(&LocalSecrets, &Call<'_>, &mut LogFields) -> Result<Value, Refusal>;

/// `arn:aws:secretsmanager:{region}:{account}:secret:{name}-{6 random characters}`.
fn secret_arn(region: &str, name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 6];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        bytes.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..6]);
    }
    let suffix: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}-{suffix}")
}

/// A secret name: 1–512 characters of letters, digits and `/_+=.@-`.
fn valid_name(name: &str) -> bool {
    (1..=512).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
}

/// Finds the secret a `SecretId` names: its name, its ARN, or its ARN without the suffix.
fn find<'a>(secrets: &'a BTreeMap<String, StoredSecret>, id: &str) -> Option<&'a StoredSecret> {
    if !id.starts_with("arn:") {
        return secrets.get(id);
    }
    secrets.values().find(|s| {
        s.arn == id
            || s.arn
                .rsplit_once('-')
                .is_some_and(|(partial, _)| partial == id)
    })
}

/// The ARN to authorize against for `id`: the secret's, or for an unknown one the ARN its
/// name would have without the suffix.
fn resource_for(secrets: &LocalSecrets, map: &BTreeMap<String, StoredSecret>, id: &str) -> String {
    match find(map, id) {
        Some(s) => s.arn.clone(),
        None if id.starts_with("arn:") => id.to_owned(),
        None => format!(
            "arn:aws:secretsmanager:{}:{ACCOUNT_ID}:secret:{id}",
            secrets.inner.identity.region()
        ),
    }
}

/// Epoch seconds with milliseconds, as the service writes dates.
fn epoch(ms: i64) -> Value {
    // Millisecond timestamps fit an f64 exactly.
    #[allow(clippy::cast_precision_loss)]
    let secs = ms as f64 / 1000.0;
    json!(secs)
}

/// The checked value of a Create/PutSecretValue: `(string, binary)`, exactly one set.
fn value_of(call: &Call<'_>) -> Result<(Option<String>, Option<String>), Refusal> {
    let string = call.string("SecretString", "secretString")?;
    let binary = call.string("SecretBinary", "secretBinary")?;
    if string.is_some() && binary.is_some() {
        return Err(Refusal::new(
            "InvalidParameterException",
            "You can't specify both a binary secret value and a string secret value in the \
             same secret.",
        ));
    }
    if let Some(s) = string
        && s.len() > MAX_VALUE
    {
        return Err(Refusal::validation(
            "secretString",
            "must have length less than or equal to 65536",
        ));
    }
    if let Some(b) = binary {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|_| {
                Refusal::new(
                    "SerializationException",
                    "The member SecretBinary must be base64-encoded.",
                )
            })?;
        if decoded.is_empty() || decoded.len() > MAX_VALUE {
            return Err(Refusal::validation(
                "secretBinary",
                "must have length between 1 and 65536",
            ));
        }
    }
    Ok((string.map(str::to_owned), binary.map(str::to_owned)))
}

/// The checked `ClientRequestToken`, or a new UUID.
fn version_id(call: &Call<'_>) -> Result<String, Refusal> {
    match call.string("ClientRequestToken", "clientRequestToken")? {
        None => Ok(uuid::Uuid::new_v4().to_string()),
        Some(t) if (32..=64).contains(&t.len()) && t.is_ascii() => Ok(t.to_owned()),
        Some(_) => Err(Refusal::validation(
            "clientRequestToken",
            "must have length between 32 and 64",
        )),
    }
}

fn create_secret(
    secrets: &LocalSecrets,
    call: &Call<'_>,
    fields: &mut LogFields,
) -> Result<Value, Refusal> {
    let name = call.required("Name", "name")?;
    if !valid_name(name) {
        return Err(Refusal::validation(
            "name",
            "must satisfy regular expression pattern: ^[a-zA-Z0-9/_+=.@-]{1,512}$",
        ));
    }
    let description = call.string("Description", "description")?;
    if description.is_some_and(|d| d.chars().count() > 2048) {
        return Err(Refusal::validation(
            "description",
            "must have length less than or equal to 2048",
        ));
    }
    let (string, binary) = value_of(call)?;
    let id = version_id(call)?;
    let mut map = secrets.secrets();
    let region = secrets.inner.identity.region().to_owned();
    let arn = map
        .get(name)
        .map_or_else(|| secret_arn(&region, name), |s| s.arn.clone());
    call.authorize(&arn, name)?;
    fields.secret = Some(name.to_owned());
    if map.contains_key(name) {
        return Err(Refusal::new(
            "ResourceExistsException",
            format!("The operation failed because the secret {name} already exists."),
        ));
    }
    if map.len() >= MAX_SECRETS {
        return Err(Refusal::new(
            "LimitExceededException",
            format!("The local Secrets Manager holds at most {MAX_SECRETS} secrets."),
        ));
    }
    let now = secrets.inner.identity.now().timestamp_millis();
    let mut secret = StoredSecret {
        name: name.to_owned(),
        arn: arn.clone(),
        description: description.map(str::to_owned),
        created_ms: now,
        changed_ms: now,
        versions: Vec::new(),
    };
    let has_value = string.is_some() || binary.is_some();
    if has_value {
        secret.add_version(
            StoredVersion {
                id: id.clone(),
                stages: Vec::new(),
                string,
                binary,
                created_ms: now,
            },
            vec![AWSCURRENT.to_owned()],
        );
    }
    map.insert(name.to_owned(), secret);
    if secrets.save(&map).is_err() {
        map.remove(name);
        return Err(Refusal::internal());
    }
    let mut out = json!({ "ARN": arn, "Name": name });
    if has_value {
        out["VersionId"] = json!(id);
    }
    Ok(out)
}

fn get_secret_value(
    secrets: &LocalSecrets,
    call: &Call<'_>,
    fields: &mut LogFields,
) -> Result<Value, Refusal> {
    let id = call.required("SecretId", "secretId")?;
    let version_id = call.string("VersionId", "versionId")?;
    let stage = call.string("VersionStage", "versionStage")?;
    let map = secrets.secrets();
    call.authorize(&resource_for(secrets, &map, id), id)?;
    let secret = find(&map, id).ok_or_else(Refusal::not_found)?;
    fields.secret = Some(secret.name.clone());
    let version = match (version_id, stage) {
        (Some(v), stage) => {
            let found = secret.versions.iter().find(|x| x.id == v).ok_or_else(|| {
                Refusal::new(
                    "ResourceNotFoundException",
                    "Secrets Manager can't find the specified secret value for VersionId.",
                )
            })?;
            if let Some(stage) = stage
                && !found.stages.iter().any(|s| s == stage)
            {
                return Err(Refusal::new(
                    "InvalidRequestException",
                    "You provided a VersionStage that is not associated to the provided \
                     VersionId.",
                ));
            }
            found
        }
        (None, stage) => {
            let stage = stage.unwrap_or(AWSCURRENT);
            secret.version_with_stage(stage).ok_or_else(|| {
                Refusal::new(
                    "ResourceNotFoundException",
                    format!(
                        "Secrets Manager can't find the specified secret value for staging \
                         label: {}",
                        prefix(stage, 256)
                    ),
                )
            })?
        }
    };
    let mut out = json!({
        "ARN": secret.arn,
        "Name": secret.name,
        "VersionId": version.id,
        "VersionStages": version.stages,
        "CreatedDate": epoch(version.created_ms),
    });
    if let Some(s) = &version.string {
        out["SecretString"] = json!(s);
    }
    if let Some(b) = &version.binary {
        out["SecretBinary"] = json!(b);
    }
    Ok(out)
}

fn put_secret_value(
    secrets: &LocalSecrets,
    call: &Call<'_>,
    fields: &mut LogFields,
) -> Result<Value, Refusal> {
    let id = call.required("SecretId", "secretId")?;
    let (string, binary) = value_of(call)?;
    let token = version_id(call)?;
    let stages: Vec<String> = match call.params.get("VersionStages") {
        None | Some(Value::Null) => vec![AWSCURRENT.to_owned()],
        Some(Value::Array(items)) => {
            let stages: Option<Vec<String>> = items
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|s| (1..=256).contains(&s.len()))
                        .map(str::to_owned)
                })
                .collect();
            match stages {
                Some(s) if (1..=20).contains(&s.len()) => s,
                _ => {
                    return Err(Refusal::validation(
                        "versionStages",
                        "must be 1-20 labels of 1-256 characters",
                    ));
                }
            }
        }
        Some(_) => {
            return Err(Refusal::new(
                "SerializationException",
                "The member VersionStages must be a list of strings.",
            ));
        }
    };
    let mut map = secrets.secrets();
    call.authorize(&resource_for(secrets, &map, id), id)?;
    let name = find(&map, id)
        .map(|s| s.name.clone())
        .ok_or_else(Refusal::not_found)?;
    fields.secret = Some(name.clone());
    if string.is_none() && binary.is_none() {
        return Err(Refusal::new(
            "InvalidRequestException",
            "You must provide either SecretString or SecretBinary.",
        ));
    }
    let before = map.get(&name).cloned();
    let Some(secret) = map.get_mut(&name) else {
        return Err(Refusal::not_found());
    };
    if let Some(existing) = secret.versions.iter().find(|v| v.id == token) {
        // Idempotent retry of the same request; anything else would change a version.
        if existing.string == string && existing.binary == binary {
            return Ok(json!({
                "ARN": secret.arn,
                "Name": secret.name,
                "VersionId": existing.id,
                "VersionStages": existing.stages,
            }));
        }
        return Err(Refusal::new(
            "ResourceExistsException",
            "You can't modify an existing version, you can only create a new version.",
        ));
    }
    let now = secrets.inner.identity.now().timestamp_millis();
    secret.add_version(
        StoredVersion {
            id: token.clone(),
            stages: Vec::new(),
            string,
            binary,
            created_ms: now,
        },
        stages.clone(),
    );
    let out = json!({
        "ARN": secret.arn,
        "Name": secret.name,
        "VersionId": token,
        "VersionStages": stages,
    });
    if secrets.save(&map).is_err() {
        if let Some(before) = before {
            map.insert(name, before);
        }
        return Err(Refusal::internal());
    }
    Ok(out)
}

fn describe_secret(
    secrets: &LocalSecrets,
    call: &Call<'_>,
    fields: &mut LogFields,
) -> Result<Value, Refusal> {
    let id = call.required("SecretId", "secretId")?;
    let map = secrets.secrets();
    call.authorize(&resource_for(secrets, &map, id), id)?;
    let secret = find(&map, id).ok_or_else(Refusal::not_found)?;
    fields.secret = Some(secret.name.clone());
    let stages: Map<String, Value> = secret
        .versions
        .iter()
        .filter(|v| !v.stages.is_empty())
        .map(|v| (v.id.clone(), json!(v.stages)))
        .collect();
    let mut out = json!({
        "ARN": secret.arn,
        "Name": secret.name,
        "CreatedDate": epoch(secret.created_ms),
        "LastChangedDate": epoch(secret.changed_ms),
        "VersionIdsToStages": stages,
    });
    if let Some(d) = &secret.description {
        out["Description"] = json!(d);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn version(id: &str) -> StoredVersion {
        StoredVersion {
            id: id.to_owned(),
            stages: Vec::new(),
            string: Some(id.to_owned()),
            binary: None,
            created_ms: 0,
        }
    }

    #[test]
    fn a_new_value_becomes_current_and_the_old_one_previous() {
        let mut s = StoredSecret {
            name: "n".into(),
            arn: "a".into(),
            description: None,
            created_ms: 0,
            changed_ms: 0,
            versions: Vec::new(),
        };
        let current = || vec![AWSCURRENT.to_owned()];
        s.add_version(version("1"), current());
        s.add_version(version("2"), current());
        s.add_version(version("3"), current());
        let stages: Vec<(&str, Vec<&str>)> = s
            .versions
            .iter()
            .map(|v| (v.id.as_str(), v.stages.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            stages,
            [
                ("1", vec![]),
                ("2", vec![AWSPREVIOUS]),
                ("3", vec![AWSCURRENT])
            ]
        );
        for i in 4..40 {
            s.add_version(version(&i.to_string()), current());
        }
        assert_eq!(s.versions.len(), MAX_VERSIONS);
        assert_eq!(s.version_with_stage(AWSCURRENT).unwrap().id, "39");
        assert_eq!(s.version_with_stage(AWSPREVIOUS).unwrap().id, "38");
    }

    #[test]
    fn arns_end_in_six_random_characters() {
        let arn = secret_arn("eu-central-1", "a/b");
        let (base, suffix) = arn.rsplit_once('-').unwrap();
        assert_eq!(
            base,
            "arn:aws:secretsmanager:eu-central-1:000000000000:secret:a/b"
        );
        assert_eq!(suffix.len(), 6);
        assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(valid_name("btp-aws-bridge/caller/xsuaa"));
        assert!(!valid_name("a b") && !valid_name(""));
    }
}
