//! S3 operations → the IAM actions and resources they need (docs/protocols.md §S3 actions),
//! for the local S3 to authorize every request before it touches a bucket.
//!
//! Operations are named as `s3s` names them (`ListObjectsV2`, `CreateMultipartUpload`).
//! [`permissions`] gives the table row; [`checks`] turns it into concrete
//! `(action, resource ARN)` pairs for one request. An operation that is not in the table maps to
//! `None`, and callers deny it.
//!
//! Notes:
//!
//! - `ListBuckets` needs `s3:ListAllMyBuckets` on `*` (the request resource is literally `*`,
//!   which only a `"*"` resource pattern matches).
//! - `ListObjects[V2]` and `HeadBucket` need `s3:ListBucket` on the **bucket** ARN: a statement
//!   on `arn:aws:s3:::b/*` does not grant it. Put `s3:prefix`, `s3:delimiter` and
//!   `s3:max-keys` into the request's condition keys when the request has them.
//! - `CopyObject` and `UploadPartCopy` need `s3:GetObject` on the source object and
//!   `s3:PutObject` on the destination: both checks must pass.
//! - `DeleteObjects` needs `s3:DeleteObject` on each key of the request: check every key and
//!   report the denied ones in the response's `Error` entries.
//! - A `GetObject`/`HeadObject` of a missing key answers 404 only if the caller also has
//!   `s3:ListBucket` on the bucket, 403 otherwise (docs/protocols.md §S3 error responses): the
//!   emulator asks [`checks`] for `ListObjectsV2` to decide.

/// What an action is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// No resource: the request resource is `*`.
    All,
    /// The bucket ARN, `arn:aws:s3:::bucket`.
    Bucket,
    /// The object ARN of the request's key, `arn:aws:s3:::bucket/key`.
    Object,
    /// The object ARN of the copy source (`x-amz-copy-source`).
    CopySource,
}

/// One permission an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permission {
    /// The IAM action, e.g. `s3:GetObject`.
    pub action: &'static str,
    /// What it is checked against.
    pub target: Target,
}

const fn p(action: &'static str, target: Target) -> Permission {
    Permission { action, target }
}

const LIST_ALL_MY_BUCKETS: &[Permission] = &[p("s3:ListAllMyBuckets", Target::All)];
const CREATE_BUCKET: &[Permission] = &[p("s3:CreateBucket", Target::Bucket)];
const DELETE_BUCKET: &[Permission] = &[p("s3:DeleteBucket", Target::Bucket)];
const LIST_BUCKET: &[Permission] = &[p("s3:ListBucket", Target::Bucket)];
const GET_OBJECT: &[Permission] = &[p("s3:GetObject", Target::Object)];
const PUT_OBJECT: &[Permission] = &[p("s3:PutObject", Target::Object)];
const COPY: &[Permission] = &[
    p("s3:GetObject", Target::CopySource),
    p("s3:PutObject", Target::Object),
];
const DELETE_OBJECT: &[Permission] = &[p("s3:DeleteObject", Target::Object)];
const ABORT_MULTIPART: &[Permission] = &[p("s3:AbortMultipartUpload", Target::Object)];
const LIST_MULTIPART_UPLOADS: &[Permission] = &[p("s3:ListBucketMultipartUploads", Target::Bucket)];
const LIST_PARTS: &[Permission] = &[p("s3:ListMultipartUploadParts", Target::Object)];
const GET_BUCKET_LOCATION: &[Permission] = &[p("s3:GetBucketLocation", Target::Bucket)];

/// Every operation in the table.
pub const OPERATIONS: &[&str] = &[
    "ListBuckets",
    "CreateBucket",
    "DeleteBucket",
    "HeadBucket",
    "ListObjectsV2",
    "ListObjects",
    "GetObject",
    "HeadObject",
    "PutObject",
    "CopyObject",
    "DeleteObject",
    "DeleteObjects",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListMultipartUploads",
    "ListParts",
    "GetBucketLocation",
];

/// The permissions the S3 operation `operation` (an `s3s` operation name, case-sensitive)
/// needs; `None` for an operation not in the table, which callers deny.
pub fn permissions(operation: &str) -> Option<&'static [Permission]> {
    Some(match operation {
        "ListBuckets" => LIST_ALL_MY_BUCKETS,
        "CreateBucket" => CREATE_BUCKET,
        "DeleteBucket" => DELETE_BUCKET,
        "HeadBucket" | "ListObjectsV2" | "ListObjects" => LIST_BUCKET,
        "GetObject" | "HeadObject" => GET_OBJECT,
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            PUT_OBJECT
        }
        "CopyObject" | "UploadPartCopy" => COPY,
        "DeleteObject" | "DeleteObjects" => DELETE_OBJECT,
        "AbortMultipartUpload" => ABORT_MULTIPART,
        "ListMultipartUploads" => LIST_MULTIPART_UPLOADS,
        "ListParts" => LIST_PARTS,
        "GetBucketLocation" => GET_BUCKET_LOCATION,
        _ => return None,
    })
}

/// The ARN of a bucket: `arn:aws:s3:::{bucket}`.
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// The ARN of an object: `arn:aws:s3:::{bucket}/{key}` (the key as is, not URL-encoded).
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

/// One concrete check: the action, on the resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Check {
    /// The IAM action, e.g. `s3:PutObject`.
    pub action: &'static str,
    /// The resource ARN, or `*`.
    pub resource: String,
}

/// The checks one request of `operation` needs, all of which must be allowed.
///
/// `bucket` and `key` are the request's; `copy_source` is the `(bucket, key)` of
/// `x-amz-copy-source` for `CopyObject` and `UploadPartCopy`. `None` when the operation is
/// not in the table or the request lacks a bucket, key or copy source the operation needs:
/// deny it.
pub fn checks(
    operation: &str,
    bucket: Option<&str>,
    key: Option<&str>,
    copy_source: Option<(&str, &str)>,
) -> Option<Vec<Check>> {
    permissions(operation)?
        .iter()
        .map(|perm| {
            let resource = match perm.target {
                Target::All => "*".to_owned(),
                Target::Bucket => bucket_arn(bucket?),
                Target::Object => object_arn(bucket?, key?),
                Target::CopySource => {
                    let (b, k) = copy_source?;
                    object_arn(b, k)
                }
            };
            Some(Check {
                action: perm.action,
                resource,
            })
        })
        .collect()
}
