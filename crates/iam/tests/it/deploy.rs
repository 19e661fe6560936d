//! The files of `deploy/aws/iam/`: they render with dev values, load, and give the expected
//! decisions for `AssumeRole` and for every S3 operation on the document bucket and on another
//! bucket.

use iam::deploy::{self, Deployment, Values};
use iam::s3;
use iam::template;
use iam::{Decision, Evaluation, PolicyError, RequestContext, assume_role, evaluate};

use crate::common::check;

const DEV: Values<'static> = Values {
    account_id: "000000000000",
    bucket_name: "btp-bridge-docs",
    external_id: "dev-external-id",
};

fn load() -> Deployment {
    deploy::load(&DEV).unwrap()
}

fn session(d: &Deployment) -> String {
    format!(
        "arn:aws:sts::{}:assumed-role/{}/app",
        DEV.account_id, d.role.name
    )
}

#[test]
fn files_load_with_dev_values() {
    let d = load();
    assert_eq!(d.user.name, "btp-bridge");
    assert_eq!(d.user.arn, "arn:aws:iam::000000000000:user/btp-bridge");
    assert_eq!(d.user.policy_name, "btp-bridge-assume-role");
    assert_eq!(d.role.name, "btp-bridge-s3");
    assert_eq!(d.role.arn, "arn:aws:iam::000000000000:role/btp-bridge-s3");
    assert_eq!(d.role.path, "/");
    assert!((3600..=43200).contains(&d.role.max_session_duration));
    assert_eq!(d.role.permission_policy_name, "btp-bridge-s3-documents");
    assert!(!d.role.description.is_empty());
}

#[test]
fn every_file_names_exactly_its_placeholders() {
    check(
        [
            (deploy::USER_JSON, vec!["AccountId".to_owned()]),
            (deploy::ROLE_JSON, vec![]),
            (
                deploy::ROLE_TRUST_POLICY_JSON,
                vec!["AccountId".to_owned(), "ExternalId".to_owned()],
            ),
            (
                deploy::ROLE_PERMISSION_POLICY_JSON,
                vec!["BucketName".to_owned()],
            ),
        ],
        |text| template::placeholders(text),
    );
}

#[test]
fn the_readme_covers_every_file() {
    let readme = include_str!("../../../../deploy/aws/iam/README.md");
    for file in [
        "user.json",
        "role.json",
        "role-trust-policy.json",
        "role-permission-policy.json",
    ] {
        assert!(readme.contains(file), "README.md does not mention {file}");
    }
    for placeholder in ["${AccountId}", "${BucketName}", "${ExternalId}"] {
        assert!(
            readme.contains(placeholder),
            "README.md does not mention {placeholder}"
        );
    }
}

#[test]
fn the_user_may_assume_the_role_and_nothing_else() {
    let d = load();
    let ask = |external_id: Option<&str>| {
        let c = RequestContext::new(&d.user.arn, DEV.account_id, "sts:AssumeRole", &d.role.arn);
        let c = match external_id {
            Some(id) => c.with_key("sts:ExternalId", id),
            None => c,
        };
        assume_role(&d.role.trust, &[&d.user.policy], &c)
    };
    assert_eq!(ask(Some("dev-external-id")), Decision::Allow);
    assert_eq!(ask(Some("wrong")), Decision::ImplicitDeny);
    assert_eq!(ask(None), Decision::ImplicitDeny);

    // Another user of the account with the same identity policy is not trusted.
    let c = RequestContext::new(
        "arn:aws:iam::000000000000:user/mallory",
        DEV.account_id,
        "sts:AssumeRole",
        &d.role.arn,
    )
    .with_key("sts:ExternalId", "dev-external-id");
    assert_eq!(
        assume_role(&d.role.trust, &[&d.user.policy], &c),
        Decision::ImplicitDeny
    );

    // The user's own policy allows AssumeRole on this role only, and no S3 at all.
    let user_may = |action: &str, resource: &str| {
        let c = RequestContext::new(&d.user.arn, DEV.account_id, action, resource);
        evaluate(
            &Evaluation {
                identity: &[&d.user.policy],
                ..Evaluation::default()
            },
            &c,
        )
    };
    assert_eq!(user_may("sts:AssumeRole", &d.role.arn), Decision::Allow);
    assert_eq!(
        user_may("sts:AssumeRole", "arn:aws:iam::000000000000:role/admin"),
        Decision::ImplicitDeny
    );
    assert_eq!(user_may("s3:ListAllMyBuckets", "*"), Decision::ImplicitDeny);
    assert_eq!(
        user_may("s3:GetObject", "arn:aws:s3:::btp-bridge-docs/a"),
        Decision::ImplicitDeny
    );
}

/// The role session's decision for one S3 operation on `bucket` (key `doc.pdf`; a copy from
/// `source_bucket`).
fn s3_decision(d: &Deployment, op: &str, bucket: &str, source_bucket: &str) -> Decision {
    let checks = s3::checks(
        op,
        Some(bucket),
        Some("dir/doc.pdf"),
        Some((source_bucket, "in/a.pdf")),
    )
    .expect("every operation of the table");
    let base = RequestContext::new(session(d), DEV.account_id, "", "");
    let policies = Evaluation {
        identity: &[&d.role.permissions],
        ..Evaluation::default()
    };
    for c in checks {
        let decision = evaluate(&policies, &base.for_action(c.action, c.resource));
        if !decision.is_allowed() {
            return decision;
        }
    }
    Decision::Allow
}

#[test]
fn s3_operations_on_the_document_bucket_and_another() {
    use Decision::{Allow, ImplicitDeny as Deny};
    let d = load();
    let docs = DEV.bucket_name;
    let table = [
        // (operation, on the document bucket, on another bucket)
        ("ListBuckets", Allow, Allow),
        ("CreateBucket", Deny, Deny),
        ("DeleteBucket", Deny, Deny),
        ("HeadBucket", Allow, Deny),
        ("ListObjectsV2", Allow, Deny),
        ("ListObjects", Allow, Deny),
        ("GetObject", Allow, Deny),
        ("HeadObject", Allow, Deny),
        ("PutObject", Allow, Deny),
        ("CopyObject", Allow, Deny),
        ("DeleteObject", Allow, Deny),
        ("DeleteObjects", Allow, Deny),
        ("CreateMultipartUpload", Allow, Deny),
        ("UploadPart", Allow, Deny),
        ("UploadPartCopy", Allow, Deny),
        ("CompleteMultipartUpload", Allow, Deny),
        ("AbortMultipartUpload", Allow, Deny),
        ("ListMultipartUploads", Deny, Deny),
        ("ListParts", Allow, Deny),
        ("GetBucketLocation", Allow, Deny),
    ];
    assert_eq!(table.len(), s3::OPERATIONS.len());
    check(
        table.map(|(op, on_docs, on_other)| (op, (on_docs, on_other))),
        |op| {
            (
                s3_decision(&d, op, docs, docs),
                s3_decision(&d, op, "other-bucket", "other-bucket"),
            )
        },
    );
    // Copying into the document bucket from another bucket, or out of it: denied.
    assert_eq!(s3_decision(&d, "CopyObject", docs, "other-bucket"), Deny);
    assert_eq!(s3_decision(&d, "CopyObject", "other-bucket", docs), Deny);
    // A bucket whose name merely starts with the document bucket's: denied.
    assert_eq!(
        s3_decision(&d, "GetObject", "btp-bridge-docs-archive", docs),
        Deny
    );
    // Unknown operations map to nothing: the caller denies.
    assert_eq!(s3::checks("PutBucketPolicy", Some(docs), None, None), None);
}

#[test]
fn rendering_errors_name_the_problem() {
    let err = |v: Values<'_>| deploy::load(&v).unwrap_err().to_string();
    assert_eq!(
        err(Values {
            account_id: "123",
            ..DEV
        }),
        "placeholder ${AccountId}: must be 12 digits"
    );
    assert_eq!(
        err(Values {
            bucket_name: "Docs",
            ..DEV
        }),
        "placeholder ${BucketName}: must be 3-63 characters of lowercase letters, digits, '.' and '-'"
    );
    assert_eq!(
        err(Values {
            external_id: "a b",
            ..DEV
        }),
        "placeholder ${ExternalId}: must be 2-1224 characters of letters, digits and _+=,.@:/-"
    );
    // A file with a placeholder nobody gives a value for.
    let broken = deploy::ROLE_PERMISSION_POLICY_JSON.replace("${BucketName}", "${Bucket}");
    let e = deploy::load_texts(
        &DEV,
        deploy::USER_JSON,
        deploy::ROLE_JSON,
        deploy::ROLE_TRUST_POLICY_JSON,
        &broken,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "role-permission-policy.json: placeholder ${Bucket}: no value given"
    );
    assert!(matches!(
        e,
        PolicyError::InFile {
            file: "role-permission-policy.json",
            ..
        }
    ));
    // A role with an out-of-range session duration.
    let long = deploy::ROLE_JSON.replace("3600", "86400");
    let e = deploy::load_texts(
        &DEV,
        deploy::USER_JSON,
        &long,
        deploy::ROLE_TRUST_POLICY_JSON,
        deploy::ROLE_PERMISSION_POLICY_JSON,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "role.json: MaxSessionDuration: expected a number of seconds from 3600 to 43200"
    );
    // A policy error inside a file.
    let bad = deploy::ROLE_TRUST_POLICY_JSON.replace("\"Allow\"", "\"allow\"");
    let e = deploy::load_texts(
        &DEV,
        deploy::USER_JSON,
        deploy::ROLE_JSON,
        &bad,
        deploy::ROLE_PERMISSION_POLICY_JSON,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"role-trust-policy.json: Statement[0] (Sid "BtpBridgeUser").Effect: expected "Allow" or "Deny""#
    );
}

#[test]
fn real_values_render_into_the_same_shape() {
    let real = Values {
        account_id: "123456789012",
        bucket_name: "acme-documents.eu",
        external_id: "b7e1c0de-5f0a-4c1e-9d7a-2f6e3b8a9c10",
    };
    let d = deploy::load(&real).unwrap();
    let text = template::render(deploy::ROLE_PERMISSION_POLICY_JSON, &real.pairs()).unwrap();
    assert!(text.contains("arn:aws:s3:::acme-documents.eu/*"));
    assert!(!text.contains("${"));
    assert_eq!(d.role.arn, "arn:aws:iam::123456789012:role/btp-bridge-s3");
}
