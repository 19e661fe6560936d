//! Policy evaluation: a [`RequestContext`] against the policies that apply to it, giving a
//! [`Decision`], and the `AssumeRole` authorization (docs/protocols.md §Evaluation and
//! §AssumeRole authorization).
//!
//! [`evaluate`], within one account:
//!
//! 1. Every request starts implicitly denied.
//! 2. A matching `Deny` anywhere — identity, resource or session policy — is an explicit deny,
//!    whatever else allows.
//! 3. Otherwise the request is allowed if an `Allow` matches in an identity policy **or** in the
//!    resource policy (the union). A resource-policy `Allow` grants by itself only when its
//!    principal names the caller (or is `*`); one that names only the caller's *account*
//!    delegates to the account, whose identity policies must allow too.
//! 4. A session policy caps: a role session may do only what the role's policies allow **and**
//!    the session policy allows. This applies to resource-policy grants as well, so a session
//!    never gets more than the role; IAM's exception for resource policies that name the
//!    session ARN itself (they grant beyond the session policy) is not modelled.
//! 5. Across accounts (the request's resource ARN names an account, and it is not the caller's)
//!    the identity policies **and** the resource policy must both allow. S3 ARNs name no
//!    account, so for S3 the resource policy is always the bucket owner's, taken to be the
//!    caller's account: the emulator is single-account.
//!
//! Permission boundaries, SCPs and RCPs are not modelled.

use std::collections::BTreeMap;
use std::fmt;

use crate::arn;
use crate::document::{Effect, PolicyDocument};
use crate::pattern::Vars;
use crate::principal::Via;

/// What a request is: who asks to do what to which resource, and its condition keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The caller: a user ARN (`arn:aws:iam::ACCT:user/NAME`), a role session ARN
    /// (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`), or a service principal name
    /// (`scheduler.amazonaws.com`) when a service calls.
    pub principal_arn: String,
    /// The caller's 12-digit account id (empty for a service).
    pub principal_account: String,
    /// The action, `service:Name` (`s3:GetObject`); compared case-insensitively.
    pub action: String,
    /// The resource ARN (`arn:aws:s3:::bucket/key`), or `*` for actions on no resource
    /// (`s3:ListAllMyBuckets`); compared case-sensitively.
    pub resource: String,
    /// Condition keys and their values, e.g. `sts:ExternalId`, `aws:SourceVpce`, `s3:prefix`.
    /// Names are looked up case-insensitively; a key with no values counts as missing.
    /// `aws:PrincipalArn` and `aws:PrincipalAccount` default to the fields above.
    pub context_keys: BTreeMap<String, Vec<String>>,
}

impl RequestContext {
    /// A request with no condition keys.
    pub fn new(
        principal_arn: impl Into<String>,
        principal_account: impl Into<String>,
        action: impl Into<String>,
        resource: impl Into<String>,
    ) -> RequestContext {
        RequestContext {
            principal_arn: principal_arn.into(),
            principal_account: principal_account.into(),
            action: action.into(),
            resource: resource.into(),
            context_keys: BTreeMap::new(),
        }
    }

    /// This request with one more value for the condition key `key`.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>, value: impl Into<String>) -> RequestContext {
        self.context_keys
            .entry(key.into())
            .or_default()
            .push(value.into());
        self
    }

    /// The same request for another action and resource (`CopyObject` checks two).
    #[must_use]
    pub fn for_action(&self, action: impl Into<String>, resource: impl Into<String>) -> Self {
        RequestContext {
            action: action.into(),
            resource: resource.into(),
            ..self.clone()
        }
    }

    /// The message of an STS `AccessDenied` error for this request, as in docs/protocols.md
    /// §AssumeRole errors: `User: {caller} is not authorized to perform: {action} on resource:
    /// {resource}`.
    pub fn access_denied_message(&self) -> String {
        format!(
            "User: {} is not authorized to perform: {} on resource: {}",
            self.principal_arn, self.action, self.resource
        )
    }

    /// The values of the condition key `key` (case-insensitive), `None` when it has none.
    pub(crate) fn key_values(&self, key: &str) -> Option<KeyValues<'_>> {
        let found = self.context_keys.get(key).or_else(|| {
            self.context_keys
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        });
        match found {
            Some(values) if !values.is_empty() => Some(KeyValues::Many(values)),
            Some(_) => None,
            None => {
                let derived = if key.eq_ignore_ascii_case("aws:PrincipalArn") {
                    &self.principal_arn
                } else if key.eq_ignore_ascii_case("aws:PrincipalAccount") {
                    &self.principal_account
                } else {
                    return None;
                };
                (!derived.is_empty()).then_some(KeyValues::One(derived))
            }
        }
    }
}

/// The values of one condition key in a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyValues<'a> {
    Many(&'a [String]),
    One(&'a str),
}

impl<'a> KeyValues<'a> {
    pub(crate) fn iter(self) -> impl Iterator<Item = &'a str> {
        let (many, one): (&'a [String], Option<&'a str>) = match self {
            KeyValues::Many(v) => (v, None),
            KeyValues::One(s) => (&[], Some(s)),
        };
        many.iter().map(String::as_str).chain(one)
    }
}

impl Vars for RequestContext {
    fn var(&self, name: &str) -> Option<&str> {
        match self.key_values(name)? {
            KeyValues::One(s) => Some(s),
            KeyValues::Many([only]) => Some(only),
            KeyValues::Many(_) => None,
        }
    }
}

/// The policies that apply to one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evaluation<'a> {
    /// The caller's identity-based policies (a user's, or the role's for a role session).
    pub identity: &'a [&'a PolicyDocument],
    /// The resource-based policy of the resource (a bucket policy), if it has one.
    pub resource: Option<&'a PolicyDocument>,
    /// The session policy of a role session (`AssumeRole`'s `Policy`), if one was passed.
    pub session: Option<&'a PolicyDocument>,
}

/// The outcome of evaluating a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Decision {
    /// A `Deny` statement matched; `sid` is its `Sid`, if it has one.
    ExplicitDeny {
        /// The `Sid` of the first matching `Deny` statement.
        sid: Option<String>,
    },
    /// An `Allow` statement matched (in every policy that had to allow) and no `Deny` did.
    Allow,
    /// Nothing allowed the request (or a session policy did not).
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        *self == Decision::Allow
    }

    /// A short text for logs: `allowed`, `explicitly denied by statement "DenyOthers"`, …
    pub fn explain(&self) -> String {
        match self {
            Decision::Allow => "allowed".to_owned(),
            Decision::ImplicitDeny => {
                "implicitly denied: no policy statement allows the request".to_owned()
            }
            Decision::ExplicitDeny { sid: Some(sid) } => {
                format!(
                    "explicitly denied by statement {}",
                    crate::error::quote(sid)
                )
            }
            Decision::ExplicitDeny { sid: None } => {
                "explicitly denied by a Deny statement without Sid".to_owned()
            }
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explain())
    }
}

/// What the statements of one document say about a request, short of an explicit deny.
#[derive(Debug, Clone, Copy, Default)]
struct Allows {
    /// An `Allow` matched naming the caller (always the case outside resource policies).
    name: bool,
    /// An `Allow` matched naming only the caller's account.
    account: bool,
}

/// Scans `doc`; `Err` is the explicit deny of its first matching `Deny` statement.
fn scan(doc: &PolicyDocument, ctx: &RequestContext, as_resource: bool) -> Result<Allows, Decision> {
    let mut allows = Allows::default();
    for statement in doc.statements() {
        let Some(via) = statement.applies(ctx, as_resource) else {
            continue;
        };
        match (statement.effect(), via) {
            (Effect::Deny, _) => {
                return Err(Decision::ExplicitDeny {
                    sid: statement.sid().map(str::to_owned),
                });
            }
            (Effect::Allow, Via::Name) => allows.name = true,
            (Effect::Allow, Via::Account) => allows.account = true,
        }
    }
    Ok(allows)
}

/// Whether any of `docs` allows (as identity policies); `Err` on an explicit deny.
fn scan_identity(docs: &[&PolicyDocument], ctx: &RequestContext) -> Result<bool, Decision> {
    let mut allowed = false;
    for doc in docs {
        allowed |= scan(doc, ctx, false)?.name;
    }
    Ok(allowed)
}

/// Whether the request's resource belongs to an account other than the caller's.
fn cross_account(ctx: &RequestContext) -> bool {
    match arn::account_of(&ctx.resource) {
        Some(owner) => {
            !owner.is_empty() && !ctx.principal_account.is_empty() && owner != ctx.principal_account
        }
        None => false,
    }
}

/// Evaluates a request against the policies that apply to it (the rules are in this module's
/// documentation and in docs/protocols.md §Evaluation).
pub fn evaluate(policies: &Evaluation<'_>, ctx: &RequestContext) -> Decision {
    let run = || -> Result<bool, Decision> {
        let identity = scan_identity(policies.identity, ctx)?;
        let session = match policies.session {
            Some(doc) => Some(scan(doc, ctx, false)?.name),
            None => None,
        };
        let resource = match policies.resource {
            Some(doc) => scan(doc, ctx, true)?,
            None => Allows::default(),
        };
        let granted = if cross_account(ctx) {
            identity && (resource.name || resource.account)
        } else {
            identity || resource.name
        };
        Ok(granted && session.unwrap_or(true))
    };
    match run() {
        Ok(true) => Decision::Allow,
        Ok(false) => Decision::ImplicitDeny,
        Err(deny) => deny,
    }
}

/// What a role's trust policy alone says about an `AssumeRole` request (`ctx.action` is
/// `sts:AssumeRole`, `ctx.resource` the role ARN, the caller in `ctx.principal_*`, the
/// external id in the condition key `sts:ExternalId`).
///
/// [`Decision::Allow`] only when the trust policy suffices on its own: it names the caller (or
/// `*`) and the caller is in the role's account. A trust policy that names only the caller's
/// account (`:root` or the account id), or a caller from another account, needs the caller's
/// identity policies as well: this function then answers [`Decision::ImplicitDeny`], and
/// [`assume_role`] gives the full answer.
pub fn trust_allows(trust: &PolicyDocument, ctx: &RequestContext) -> Decision {
    match scan(trust, ctx, true) {
        Err(deny) => deny,
        Ok(allows) if allows.name && !cross_account(ctx) => Decision::Allow,
        Ok(_) => Decision::ImplicitDeny,
    }
}

/// The full `AssumeRole` authorization (docs/protocols.md §AssumeRole authorization), from the
/// role's trust policy and the caller's identity policies:
///
/// - any matching `Deny` in either is an explicit deny;
/// - same account: allowed if the trust policy names the caller, or if it names the caller's
///   account and an identity policy allows `sts:AssumeRole` on the role;
/// - across accounts: both must allow.
///
/// The STS answers a denial with `AccessDenied` and
/// [`RequestContext::access_denied_message`].
pub fn assume_role(
    trust: &PolicyDocument,
    identity: &[&PolicyDocument],
    ctx: &RequestContext,
) -> Decision {
    let run = || -> Result<bool, Decision> {
        let trusted = scan(trust, ctx, true)?;
        let identity = scan_identity(identity, ctx)?;
        Ok(if cross_account(ctx) {
            (trusted.name || trusted.account) && identity
        } else {
            trusted.name || (trusted.account && identity)
        })
    };
    match run() {
        Ok(true) => Decision::Allow,
        Ok(false) => Decision::ImplicitDeny,
        Err(deny) => deny,
    }
}
