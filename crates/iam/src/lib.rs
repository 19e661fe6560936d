//! IAM policy documents and their evaluation, for the local STS and S3; the rules are
//! summarised in docs/protocols.md §IAM policy evaluation.
//!
//! **Architecture invariant:** this crate is pure. It does no IO beyond parsing the strings it
//! is given (and the deploy files built into it), keeps no state between calls, and never
//! panics: a malformed policy is a [`PolicyError`] at load time, and evaluating a loaded policy
//! against any request gives a [`Decision`]. Patterns are compiled when a policy is loaded, so
//! the emulators can evaluate every request cheaply.
//!
//! ```
//! use iam::{Decision, Evaluation, PolicyDocument, RequestContext, evaluate};
//!
//! let policy = PolicyDocument::from_json(r#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::docs/*"}]
//! }"#)?;
//! let ctx = RequestContext::new(
//!     "arn:aws:sts::123456789012:assumed-role/btp-bridge-s3/app",
//!     "123456789012",
//!     "s3:GetObject",
//!     iam::s3::object_arn("docs", "a.pdf"),
//! );
//! let policies = Evaluation { identity: &[&policy], ..Evaluation::default() };
//! assert_eq!(evaluate(&policies, &ctx), Decision::Allow);
//!
//! let other = ctx.for_action("s3:GetObject", iam::s3::object_arn("other", "a.pdf"));
//! assert_eq!(evaluate(&policies, &other), Decision::ImplicitDeny);
//! # Ok::<(), iam::PolicyError>(())
//! ```
//!
//! Modules:
//!
//! - `document`: [`PolicyDocument`] and [`Statement`], parsed per [`PolicyKind`] with errors
//!   that name the element; written back with [`PolicyDocument::to_json`].
//! - `eval`: [`RequestContext`], [`Evaluation`], [`evaluate`] (in IAM's order),
//!   [`trust_allows`] and [`assume_role`], [`Decision`]; see docs/protocols.md §Evaluation and
//!   §AssumeRole authorization.
//! - `condition`: the `Condition` operators; its doc states how missing keys are read.
//! - `principal`: `Principal` / `NotPrincipal`.
//! - `pattern`, `arn`, `values`: wildcard patterns, ARN matching, dates and CIDR blocks.
//! - [`s3`]: S3 operation → action and resource (docs/protocols.md §S3 actions),
//!   [`s3::bucket_arn`], [`s3::object_arn`].
//! - [`template`]: `${Name}` placeholders in policy files.
//! - [`deploy`]: the files of `deploy/aws/iam/`, built in and loaded with given values.
//! - `error`: [`PolicyError`].

mod arn;
mod condition;
pub mod deploy;
mod document;
mod error;
mod eval;
mod pattern;
mod principal;
pub mod s3;
pub mod template;
mod values;

pub use document::{Effect, PolicyDocument, PolicyKind, Statement, Version};
pub use error::PolicyError;
pub use eval::{Decision, Evaluation, RequestContext, assume_role, evaluate, trust_allows};
