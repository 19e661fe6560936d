//! The IAM setup of `deploy/aws/iam/`, built into the crate and loaded with given values: the
//! user `btp-bridge` (whose long-term keys go into the SAP Credential Store) with its identity
//! policy, and the role `btp-bridge-s3` with its trust and permission policies ([`load`]);
//! and the scheduled caller's identities ([`load_caller`]): the execution role
//! `btp-aws-bridge-caller` of the caller Lambda function (its one Secrets Manager secret, its
//! own log group, its failure queue) and the role `btp-aws-bridge-scheduler` that EventBridge
//! Scheduler assumes to invoke it.
//!
//! The local STS, S3 and Secrets Manager load these very files with dev values; deployment renders
//! the same files with real values (see `deploy/aws/iam/README.md`), so what is tested locally
//! is what is applied.

use serde_json::{Map, Value};

use crate::document::{PolicyDocument, PolicyKind};
use crate::error::PolicyError;
use crate::template;

/// `deploy/aws/iam/user.json`: the user, its policy's name, and the policy itself.
pub const USER_JSON: &str = include_str!("../../../deploy/aws/iam/user.json");
/// `deploy/aws/iam/role.json`: the role's name, path, description and maximum session
/// duration.
pub const ROLE_JSON: &str = include_str!("../../../deploy/aws/iam/role.json");
/// `deploy/aws/iam/role-trust-policy.json`: who may assume the role.
pub const ROLE_TRUST_POLICY_JSON: &str =
    include_str!("../../../deploy/aws/iam/role-trust-policy.json");
/// `deploy/aws/iam/role-permission-policy.json`: what the role's sessions may do in S3.
pub const ROLE_PERMISSION_POLICY_JSON: &str =
    include_str!("../../../deploy/aws/iam/role-permission-policy.json");

/// `deploy/aws/iam/caller-role.json`: the execution role of the caller Lambda function.
pub const CALLER_ROLE_JSON: &str = include_str!("../../../deploy/aws/iam/caller-role.json");
/// `deploy/aws/iam/caller-trust-policy.json`: only the Lambda service may assume it.
pub const CALLER_TRUST_POLICY_JSON: &str =
    include_str!("../../../deploy/aws/iam/caller-trust-policy.json");
/// `deploy/aws/iam/caller-permission-policy.json`: its one secret, its own logs, its failure
/// queue.
pub const CALLER_PERMISSION_POLICY_JSON: &str =
    include_str!("../../../deploy/aws/iam/caller-permission-policy.json");
/// `deploy/aws/iam/scheduler-role.json`: the role EventBridge Scheduler assumes for the
/// schedules.
pub const SCHEDULER_ROLE_JSON: &str = include_str!("../../../deploy/aws/iam/scheduler-role.json");
/// `deploy/aws/iam/scheduler-trust-policy.json`: only the Scheduler service of the account.
pub const SCHEDULER_TRUST_POLICY_JSON: &str =
    include_str!("../../../deploy/aws/iam/scheduler-trust-policy.json");
/// `deploy/aws/iam/scheduler-permission-policy.json`: invoke the caller function, send to the
/// schedules' dead-letter queue.
pub const SCHEDULER_PERMISSION_POLICY_JSON: &str =
    include_str!("../../../deploy/aws/iam/scheduler-permission-policy.json");

/// The caller function's name, as the caller files, the schedule files and the template name
/// it.
pub const CALLER_FUNCTION_NAME: &str = "btp-aws-bridge-caller";
/// The SQS queue the caller function's failed asynchronous events go to (its `OnFailure`
/// destination).
pub const CALLER_FAILURE_QUEUE: &str = "btp-aws-bridge-caller-failed";
/// The SQS dead-letter queue of the schedules (events the Scheduler could not deliver).
pub const SCHEDULER_DEAD_LETTER_QUEUE: &str = "btp-aws-bridge-dlq";

/// The values of the caller files' placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerValues<'a> {
    /// `${AccountId}`: the 12-digit AWS account id.
    pub account_id: &'a str,
    /// `${Region}`: the region of the function, its secret and its queues.
    pub region: &'a str,
    /// `${SecretName}`: the name of the function's Secrets Manager secret (the XSUAA service
    /// key).
    pub secret_name: &'a str,
}

impl CallerValues<'_> {
    /// The `(placeholder, value)` pairs for [`template::render`].
    pub fn pairs(&self) -> [(&str, &str); 3] {
        [
            ("AccountId", self.account_id),
            ("Region", self.region),
            ("SecretName", self.secret_name),
        ]
    }

    /// `arn:aws:secretsmanager:{region}:{account}:secret:{name}-{suffix}`: the ARN Secrets
    /// Manager gives the secret, with its six random characters.
    pub fn secret_arn(&self, suffix: &str) -> String {
        format!(
            "arn:aws:secretsmanager:{}:{}:secret:{}-{suffix}",
            self.region, self.account_id, self.secret_name
        )
    }

    /// The caller function's ARN.
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{CALLER_FUNCTION_NAME}",
            self.region, self.account_id
        )
    }

    /// The ARN of an SQS queue of this account and region.
    pub fn queue_arn(&self, queue: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{queue}", self.region, self.account_id)
    }

    /// Checks each value against what AWS accepts where it goes.
    fn check(&self) -> Result<(), PolicyError> {
        let bad = |name: &str, problem: &str| PolicyError::Placeholder {
            name: name.to_owned(),
            problem: problem.to_owned(),
        };
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("AccountId", "must be 12 digits"));
        }
        // Region names: lowercase letters, digits and '-', e.g. eu-central-1.
        let region_ok = (1..=32).contains(&self.region.len())
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(bad(
                "Region",
                "must be a region name of lowercase letters, digits and '-'",
            ));
        }
        // Secret names: 1-512 characters of letters, digits and /_+=.@- (AWS Secrets Manager
        // API Reference, CreateSecret, Name); the policy's `-??????` stands for the suffix.
        let name_ok = (1..=512).contains(&self.secret_name.len())
            && self
                .secret_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
        if !name_ok {
            return Err(bad(
                "SecretName",
                "must be 1-512 characters of letters, digits and /_+=.@-",
            ));
        }
        Ok(())
    }
}

/// The scheduled caller's identities, loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerDeployment {
    /// The function's execution role (`caller-*.json`).
    pub caller: Role,
    /// The Scheduler's role (`scheduler-*.json`).
    pub scheduler: Role,
}

/// Renders the built-in caller and scheduler files with `values` and loads them.
pub fn load_caller(values: &CallerValues<'_>) -> Result<CallerDeployment, PolicyError> {
    load_caller_texts(
        values,
        [
            CALLER_ROLE_JSON,
            CALLER_TRUST_POLICY_JSON,
            CALLER_PERMISSION_POLICY_JSON,
        ],
        [
            SCHEDULER_ROLE_JSON,
            SCHEDULER_TRUST_POLICY_JSON,
            SCHEDULER_PERMISSION_POLICY_JSON,
        ],
    )
}

/// Renders and loads the caller's and the Scheduler's role from the given texts, each
/// `[role, trust policy, permission policy]`.
pub fn load_caller_texts(
    values: &CallerValues<'_>,
    caller: [&str; 3],
    scheduler: [&str; 3],
) -> Result<CallerDeployment, PolicyError> {
    values.check()?;
    let pairs = values.pairs();
    let render = |text: &str, file: &'static str| {
        template::render(text, &pairs).map_err(|e| e.in_file(file))
    };
    let [role, trust, permissions] = caller;
    let caller = load_role(
        &render,
        values.account_id,
        RoleFiles {
            role: ("caller-role.json", role),
            trust: ("caller-trust-policy.json", trust),
            permissions: ("caller-permission-policy.json", permissions),
        },
    )?;
    let [role, trust, permissions] = scheduler;
    let scheduler = load_role(
        &render,
        values.account_id,
        RoleFiles {
            role: ("scheduler-role.json", role),
            trust: ("scheduler-trust-policy.json", trust),
            permissions: ("scheduler-permission-policy.json", permissions),
        },
    )?;
    Ok(CallerDeployment { caller, scheduler })
}

/// The values of the files' placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Values<'a> {
    /// `${AccountId}`: the 12-digit AWS account id.
    pub account_id: &'a str,
    /// `${BucketName}`: the document bucket.
    pub bucket_name: &'a str,
    /// `${ExternalId}`: the external id the app passes to `AssumeRole`.
    pub external_id: &'a str,
}

impl Values<'_> {
    /// The `(placeholder, value)` pairs for [`template::render`].
    pub fn pairs(&self) -> [(&str, &str); 3] {
        [
            ("AccountId", self.account_id),
            ("BucketName", self.bucket_name),
            ("ExternalId", self.external_id),
        ]
    }

    /// Checks each value against what AWS accepts where it goes.
    fn check(&self) -> Result<(), PolicyError> {
        let bad = |name: &str, problem: &str| PolicyError::Placeholder {
            name: name.to_owned(),
            problem: problem.to_owned(),
        };
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("AccountId", "must be 12 digits"));
        }
        let bucket_ok = (3..=63).contains(&self.bucket_name.len())
            && self
                .bucket_name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok {
            return Err(bad(
                "BucketName",
                "must be 3-63 characters of lowercase letters, digits, '.' and '-'",
            ));
        }
        // The external id must meet AssumeRole's constraint on `ExternalId` (AWS STS API
        // Reference, AssumeRole).
        let external_ok = (2..=1224).contains(&self.external_id.len())
            && self
                .external_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
        if !external_ok {
            return Err(bad(
                "ExternalId",
                "must be 2-1224 characters of letters, digits and _+=,.@:/-",
            ));
        }
        Ok(())
    }
}

/// The IAM user the app's long-term keys belong to.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// `UserName`, e.g. `btp-bridge`.
    pub name: String,
    /// `Path`, e.g. `/`.
    pub path: String,
    /// `arn:aws:iam::{account}:user{path}{name}`.
    pub arn: String,
    /// The name of its inline identity policy.
    pub policy_name: String,
    /// Its identity policy: `sts:AssumeRole` on the role, nothing else.
    pub policy: PolicyDocument,
}

/// The role the app assumes for S3.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// `RoleName`, e.g. `btp-bridge-s3`.
    pub name: String,
    /// `Path`, e.g. `/`.
    pub path: String,
    /// `arn:aws:iam::{account}:role{path}{name}`.
    pub arn: String,
    /// `Description`.
    pub description: String,
    /// `MaxSessionDuration` in seconds (3600–43200): the longest `DurationSeconds` allowed.
    pub max_session_duration: u32,
    /// The trust policy.
    pub trust: PolicyDocument,
    /// The name of its inline permission policy.
    pub permission_policy_name: String,
    /// The permission policy (an identity policy of the role).
    pub permissions: PolicyDocument,
}

/// The whole setup, loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The user.
    pub user: User,
    /// The role.
    pub role: Role,
}

/// Renders the built-in files with `values` and loads them.
pub fn load(values: &Values<'_>) -> Result<Deployment, PolicyError> {
    load_texts(
        values,
        USER_JSON,
        ROLE_JSON,
        ROLE_TRUST_POLICY_JSON,
        ROLE_PERMISSION_POLICY_JSON,
    )
}

/// Renders and loads the four files from the given texts (for files edited at run time).
pub fn load_texts(
    values: &Values<'_>,
    user_json: &str,
    role_json: &str,
    trust_json: &str,
    permissions_json: &str,
) -> Result<Deployment, PolicyError> {
    values.check()?;
    let pairs = values.pairs();
    let render = |text: &str, file: &'static str| {
        template::render(text, &pairs).map_err(|e| e.in_file(file))
    };

    let user_file = "user.json";
    let user = object(&render(user_json, user_file)?).map_err(|e| e.in_file(user_file))?;
    let user = (|| {
        let name = string(&user, "UserName")?;
        let path = iam_path(&user)?;
        let policy_value = user
            .get("PolicyDocument")
            .ok_or_else(|| PolicyError::element("PolicyDocument", "missing"))?;
        Ok::<_, PolicyError>(User {
            arn: format!("arn:aws:iam::{}:user{path}{name}", values.account_id),
            policy_name: string(&user, "PolicyName")?,
            policy: PolicyDocument::from_value(policy_value, PolicyKind::Identity)?,
            name,
            path,
        })
    })()
    .map_err(|e| e.in_file(user_file))?;

    let role = load_role(
        &render,
        values.account_id,
        RoleFiles {
            role: ("role.json", role_json),
            trust: ("role-trust-policy.json", trust_json),
            permissions: ("role-permission-policy.json", permissions_json),
        },
    )?;

    Ok(Deployment { user, role })
}

/// One role's three files: `(file name, text)` each.
struct RoleFiles<'t> {
    role: (&'static str, &'t str),
    trust: (&'static str, &'t str),
    permissions: (&'static str, &'t str),
}

/// Renders and loads a role from its description, trust policy and permission policy.
fn load_role(
    render: &dyn Fn(&str, &'static str) -> Result<String, PolicyError>,
    account_id: &str,
    files: RoleFiles<'_>,
) -> Result<Role, PolicyError> {
    let (role_file, role_json) = files.role;
    let (trust_file, trust_json) = files.trust;
    let (permissions_file, permissions_json) = files.permissions;
    let role = object(&render(role_json, role_file)?).map_err(|e| e.in_file(role_file))?;
    let trust = PolicyDocument::from_json_as(&render(trust_json, trust_file)?, PolicyKind::Trust)
        .map_err(|e| e.in_file(trust_file))?;
    let permissions = PolicyDocument::from_json(&render(permissions_json, permissions_file)?)
        .map_err(|e| e.in_file(permissions_file))?;
    (|| {
        let name = string(&role, "RoleName")?;
        let path = iam_path(&role)?;
        let max = role
            .get("MaxSessionDuration")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (3600..=43200).contains(n))
            .ok_or_else(|| {
                PolicyError::element(
                    "MaxSessionDuration",
                    "expected a number of seconds from 3600 to 43200",
                )
            })?;
        Ok::<_, PolicyError>(Role {
            arn: format!("arn:aws:iam::{account_id}:role{path}{name}"),
            description: match role.get("Description") {
                None => String::new(),
                Some(_) => string(&role, "Description")?,
            },
            max_session_duration: max,
            permission_policy_name: string(&role, "PermissionPolicyName")?,
            trust,
            permissions,
            name,
            path,
        })
    })()
    .map_err(|e| e.in_file(role_file))
}

fn object(text: &str) -> Result<Map<String, Value>, PolicyError> {
    match serde_json::from_str(text).map_err(|e| PolicyError::json(&e))? {
        Value::Object(map) => Ok(map),
        _ => Err(PolicyError::element("(document)", "expected a JSON object")),
    }
}

fn string(map: &Map<String, Value>, field: &str) -> Result<String, PolicyError> {
    match map.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(PolicyError::element(field, "expected a non-empty string")),
        None => Err(PolicyError::element(field, "missing")),
    }
}

/// The `Path` field: `/` when absent; otherwise it must start and end with `/`.
fn iam_path(map: &Map<String, Value>) -> Result<String, PolicyError> {
    if map.get("Path").is_none() {
        return Ok("/".to_owned());
    }
    let path = string(map, "Path")?;
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(PolicyError::element("Path", "must start and end with '/'"));
    }
    Ok(path)
}
