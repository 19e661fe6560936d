//! The S3 operation → action and resource table (docs/protocols.md §S3 actions) and the checks
//! built from it.

use iam::s3::{self, Check, Permission, Target};

use crate::common::check;

fn perm(action: &'static str, target: Target) -> Permission {
    Permission { action, target }
}

#[test]
fn table() {
    use Target::{All, Bucket, CopySource, Object};
    check(
        [
            ("ListBuckets", Some(vec![perm("s3:ListAllMyBuckets", All)])),
            ("CreateBucket", Some(vec![perm("s3:CreateBucket", Bucket)])),
            ("DeleteBucket", Some(vec![perm("s3:DeleteBucket", Bucket)])),
            ("HeadBucket", Some(vec![perm("s3:ListBucket", Bucket)])),
            ("ListObjectsV2", Some(vec![perm("s3:ListBucket", Bucket)])),
            ("ListObjects", Some(vec![perm("s3:ListBucket", Bucket)])),
            ("GetObject", Some(vec![perm("s3:GetObject", Object)])),
            ("HeadObject", Some(vec![perm("s3:GetObject", Object)])),
            ("PutObject", Some(vec![perm("s3:PutObject", Object)])),
            (
                "CopyObject",
                Some(vec![
                    perm("s3:GetObject", CopySource),
                    perm("s3:PutObject", Object),
                ]),
            ),
            ("DeleteObject", Some(vec![perm("s3:DeleteObject", Object)])),
            ("DeleteObjects", Some(vec![perm("s3:DeleteObject", Object)])),
            (
                "CreateMultipartUpload",
                Some(vec![perm("s3:PutObject", Object)]),
            ),
            ("UploadPart", Some(vec![perm("s3:PutObject", Object)])),
            (
                "UploadPartCopy",
                Some(vec![
                    perm("s3:GetObject", CopySource),
                    perm("s3:PutObject", Object),
                ]),
            ),
            (
                "CompleteMultipartUpload",
                Some(vec![perm("s3:PutObject", Object)]),
            ),
            (
                "AbortMultipartUpload",
                Some(vec![perm("s3:AbortMultipartUpload", Object)]),
            ),
            (
                "ListMultipartUploads",
                Some(vec![perm("s3:ListBucketMultipartUploads", Bucket)]),
            ),
            (
                "ListParts",
                Some(vec![perm("s3:ListMultipartUploadParts", Object)]),
            ),
            (
                "GetBucketLocation",
                Some(vec![perm("s3:GetBucketLocation", Bucket)]),
            ),
            // Not in the table: callers deny.
            ("PutBucketPolicy", None),
            ("getobject", None),
            ("", None),
        ],
        |op| s3::permissions(op).map(<[Permission]>::to_vec),
    );
    for op in s3::OPERATIONS {
        assert!(s3::permissions(op).is_some(), "{op}");
    }
    assert_eq!(s3::OPERATIONS.len(), 20);
}

#[test]
fn arns() {
    assert_eq!(s3::bucket_arn("docs"), "arn:aws:s3:::docs");
    assert_eq!(
        s3::object_arn("docs", "a/b c:d.pdf"),
        "arn:aws:s3:::docs/a/b c:d.pdf"
    );
    assert_eq!(s3::object_arn("docs", ""), "arn:aws:s3:::docs/");
}

fn c(action: &'static str, resource: &str) -> Check {
    Check {
        action,
        resource: resource.to_owned(),
    }
}

#[test]
fn checks() {
    check(
        [
            (
                ("ListBuckets", None, None, None),
                Some(vec![c("s3:ListAllMyBuckets", "*")]),
            ),
            (
                ("ListObjectsV2", Some("docs"), None, None),
                Some(vec![c("s3:ListBucket", "arn:aws:s3:::docs")]),
            ),
            (
                ("GetObject", Some("docs"), Some("a.pdf"), None),
                Some(vec![c("s3:GetObject", "arn:aws:s3:::docs/a.pdf")]),
            ),
            (
                (
                    "CopyObject",
                    Some("docs"),
                    Some("b.pdf"),
                    Some(("src", "a.pdf")),
                ),
                Some(vec![
                    c("s3:GetObject", "arn:aws:s3:::src/a.pdf"),
                    c("s3:PutObject", "arn:aws:s3:::docs/b.pdf"),
                ]),
            ),
            // Missing pieces: nothing to check against, so deny.
            (("GetObject", Some("docs"), None, None), None),
            (("ListObjectsV2", None, None, None), None),
            (("CopyObject", Some("docs"), Some("b.pdf"), None), None),
            (("Unknown", Some("docs"), Some("k"), None), None),
        ],
        |(op, bucket, key, source)| s3::checks(op, *bucket, *key, *source),
    );
}
