//! Local STS, AssumeRole: success through the official SDK and as raw XML, durations, trust
//! failures, parameter validation, session policies.

use std::time::Duration;

use chrono::{DateTime, Utc};
use devstack::aws_identity::ACCOUNT_ID;

/// The role of `deploy/aws/iam/role.json`.
const ROLE_NAME: &str = "btp-bridge-s3";

use crate::sts_support::{Aws, sdk_error};

#[tokio::test]
async fn the_sdk_assumes_the_role_and_the_session_answers_get_caller_identity() {
    let aws = Aws::start().await;
    let start: DateTime<Utc> = aws.now().into();
    let out = aws
        .sdk(aws.user_credentials())
        .assume_role()
        .role_arn(aws.role_arn())
        .role_session_name("it-session")
        .external_id(aws.external_id())
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    testkit::logs::secret(c.secret_access_key());
    testkit::logs::secret(c.session_token());
    assert!(
        c.access_key_id().starts_with("ASIA"),
        "{}",
        c.access_key_id()
    );
    assert_eq!(c.access_key_id().len(), 20);
    assert!(
        c.access_key_id()[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    );
    assert_eq!(c.secret_access_key().len(), 40);
    assert!(c.session_token().len() > 100);
    assert_eq!(c.expiration().secs(), start.timestamp() + 900);

    let user = out.assumed_role_user().unwrap();
    assert_eq!(
        user.arn(),
        format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/it-session")
    );
    let (role_id, session) = user.assumed_role_id().split_once(':').unwrap();
    assert!(
        role_id.starts_with("AROA") && role_id.len() == 21,
        "{role_id}"
    );
    assert_eq!(session, "it-session");
    assert_eq!(aws.id().assume_role_count(), 1);

    // The temporary credentials sign GetCallerIdentity.
    let creds = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "sts",
    );
    let me = aws.sdk(creds).get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some(user.arn()));
    assert_eq!(me.user_id(), Some(user.assumed_role_id()));
    assert_eq!(me.account(), Some(ACCOUNT_ID));

    // The registry knows the session, for the local S3's authentication.
    let p = aws.id().lookup(c.access_key_id()).unwrap();
    assert_eq!(p.arn, user.arn());
    assert_eq!(
        p.session_token.as_ref().map(|t| t.expose()),
        Some(c.session_token())
    );
    assert_eq!(p.policies.len(), 1);
    assert!(p.session_policy.is_none());
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn the_response_has_the_recorded_xml_shape() {
    let aws = Aws::start().await;
    let http = aws.stack.http();
    let r = aws
        .signed()
        .form(&[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", &aws.role_arn()),
            ("RoleSessionName", "shape"),
            ("ExternalId", &aws.external_id()),
        ])
        .send(&http)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), "text/xml");
    assert!(
        r.text.starts_with(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        ),
        "{}",
        r.text
    );
    // Element order as in the recorded response.
    let order = [
        "<AssumeRoleResult>",
        "<AssumedRoleUser>",
        "<AssumedRoleId>",
        "<Arn>",
        "<Credentials>",
        "<AccessKeyId>",
        "<SecretAccessKey>",
        "<SessionToken>",
        "<Expiration>",
        "</AssumeRoleResult>",
        "<ResponseMetadata>",
        "<RequestId>",
    ];
    let positions: Vec<usize> = order.iter().map(|t| r.text.find(t).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{}", r.text);
    assert!(!r.text.contains("PackedPolicySize"));
    assert_eq!(r.tag("RequestId"), r.header("x-amzn-requestid"));
    uuid::Uuid::parse_str(r.tag("RequestId")).unwrap();

    // Default duration: one hour; ISO 8601 UTC without fractions.
    let now: DateTime<Utc> = aws.now().into();
    let expected = (now + chrono::Duration::seconds(3600))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(r.tag("Expiration"), expected);
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn durations_up_to_the_role_maximum_are_honoured() {
    let aws = Aws::start().await;
    let now: DateTime<Utc> = aws.now().into();
    for secs in [900, 1800, 3600] {
        let out = aws
            .sdk(aws.user_credentials())
            .assume_role()
            .role_arn(aws.role_arn())
            .role_session_name("dd")
            .external_id(aws.external_id())
            .duration_seconds(secs)
            .send()
            .await
            .unwrap();
        let c = out.credentials().unwrap();
        testkit::logs::secret(c.secret_access_key());
        testkit::logs::secret(c.session_token());
        assert_eq!(c.expiration().secs(), now.timestamp() + i64::from(secs));
    }
    let err = aws
        .sdk(aws.user_credentials())
        .assume_role()
        .role_arn(aws.role_arn())
        .role_session_name("dd")
        .external_id(aws.external_id())
        .duration_seconds(3601)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sdk_error(&err),
        (
            "ValidationError".to_owned(),
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .to_owned()
        )
    );
    assert_eq!(aws.id().assume_role_count(), 3);
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn trust_failures_are_access_denied_with_aws_wording() {
    let aws = Aws::start().await;
    let http = aws.stack.http();
    let user_arn = aws.user_arn();
    let role_arn = aws.role_arn();
    let unknown_role = format!("arn:aws:iam::{ACCOUNT_ID}:role/no-such-role");
    let other_account = format!("arn:aws:iam::123456789012:role/{ROLE_NAME}");
    // (what, parameters, the resource the message names)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "wrong ExternalId",
            vec![
                ("RoleArn", &role_arn),
                ("ExternalId", "not-the-external-id"),
            ],
            &role_arn,
        ),
        (
            "missing ExternalId",
            vec![("RoleArn", &role_arn)],
            &role_arn,
        ),
        (
            "unknown role",
            vec![("RoleArn", &unknown_role), ("ExternalId", "x-1")],
            &unknown_role,
        ),
        (
            "another account's role",
            vec![("RoleArn", &other_account), ("ExternalId", "x-1")],
            &other_account,
        ),
    ];
    for (what, params, resource) in cases {
        let mut form = vec![
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleSessionName", "denied"),
        ];
        form.extend(params);
        let r = aws.signed().form(&form).send(&http).await;
        let message = r.assert_error(403, "AccessDenied");
        assert_eq!(
            message,
            format!(
                "User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {resource}"
            ),
            "{what}"
        );
    }

    // The SDK sees the same.
    let err = aws
        .sdk(aws.user_credentials())
        .assume_role()
        .role_arn(aws.role_arn())
        .role_session_name("denied")
        .external_id("wrong-external-id")
        .send()
        .await
        .unwrap_err();
    let (code, message) = sdk_error(&err);
    assert_eq!(code, "AccessDenied");
    assert!(message.starts_with(&format!("User: {user_arn} is not authorized")));
    assert_eq!(aws.id().assume_role_count(), 0);
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn a_role_session_is_not_trusted_to_assume_the_role_again() {
    let aws = Aws::start().await;
    let session = aws.assume("first", None).await;
    let err = aws
        .sdk(session)
        .assume_role()
        .role_arn(aws.role_arn())
        .role_session_name("second")
        .external_id(aws.external_id())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sdk_error(&err),
        (
            "AccessDenied".to_owned(),
            format!(
                "User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/first is not authorized \
                 to perform: sts:AssumeRole on resource: {}",
                aws.role_arn()
            )
        )
    );
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn parameters_are_validated_like_the_service_model_says() {
    let aws = Aws::start().await;
    let http = aws.stack.http();
    let role_arn = aws.role_arn();
    let ext = aws.external_id();
    let long_name = "n".repeat(65);
    let long_policy = format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::{}\"}}]}}",
        "b".repeat(2000)
    );
    let check = |overrides: Vec<(&'static str, String)>| {
        let mut form: Vec<(&str, String)> = vec![
            ("Action", "AssumeRole".into()),
            ("Version", "2011-06-15".into()),
            ("RoleArn", role_arn.clone()),
            ("RoleSessionName", "valid".into()),
            ("ExternalId", ext.clone()),
        ];
        for (k, v) in overrides {
            form.retain(|(name, _)| *name != k);
            if !v.is_empty() {
                form.push((k, v));
            }
        }
        let pairs: Vec<(String, String)> =
            form.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let aws = &aws;
        let http = &http;
        async move {
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let r = aws.signed().form(&refs).send(http).await;
            r.assert_error(400, "ValidationError").to_owned()
        }
    };
    let cases: Vec<(Vec<(&'static str, String)>, String)> = vec![
        (
            vec![("RoleSessionName", "a".into())],
            "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2".into(),
        ),
        (
            vec![("RoleSessionName", long_name.clone())],
            format!("1 validation error detected: Value '{long_name}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"),
        ),
        (
            vec![("RoleSessionName", "has space".into())],
            "1 validation error detected: Value 'has space' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*".into(),
        ),
        (
            vec![("RoleSessionName", String::new())],
            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null".into(),
        ),
        (
            vec![("DurationSeconds", "899".into())],
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900".into(),
        ),
        (
            vec![("DurationSeconds", "43201".into())],
            "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200".into(),
        ),
        (
            vec![("ExternalId", "x".into())],
            "1 validation error detected: Value 'x' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2".into(),
        ),
        (
            vec![("ExternalId", "a b".into())],
            "1 validation error detected: Value 'a b' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*".into(),
        ),
        (
            vec![("RoleArn", "arn:aws:iam::1:role".into())],
            "1 validation error detected: Value 'arn:aws:iam::1:role' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20".into(),
        ),
        (
            vec![("RoleSessionName", "a".into()), ("DurationSeconds", "1".into())],
            "2 validation errors detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; Value '1' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900".into(),
        ),
        (
            vec![("Tags.member.1.Key", "team".into())],
            "The local STS does not support the AssumeRole parameter Tags.".into(),
        ),
    ];
    for (overrides, expected) in cases {
        assert_eq!(check(overrides).await, expected);
    }
    let too_long = check(vec![("Policy", long_policy)]).await;
    assert!(
        too_long.ends_with(
            "at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048"
        ),
        "{too_long}"
    );
    assert_eq!(aws.id().assume_role_count(), 0);
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn an_inline_session_policy_is_kept_with_the_session() {
    let aws = Aws::start().await;
    let http = aws.stack.http();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}/*"}}]}}"#,
        aws.id().bucket()
    );
    let base = [
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleSessionName", "scoped"),
    ];
    let role_arn = aws.role_arn();
    let ext = aws.external_id();
    let mut form = base.to_vec();
    form.extend([
        ("RoleArn", role_arn.as_str()),
        ("ExternalId", ext.as_str()),
        ("Policy", policy.as_str()),
    ]);
    let r = aws.signed().form(&form).send(&http).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let packed: usize = r.tag("PackedPolicySize").parse().unwrap();
    assert!((1..=100).contains(&packed), "{packed}");
    let p = aws.id().lookup(r.tag("AccessKeyId")).unwrap();
    assert_eq!(p.session_policy.as_ref().unwrap().json(), policy);

    // What the local S3 will ask: the role's permissions, capped by the session policy.
    let bucket = aws.id().bucket().to_owned();
    let allowed = |p: &devstack::aws_identity::Principal, action: &str, resource: &str| {
        p.evaluate(&p.request(action, resource), None).is_allowed()
    };
    let object = format!("arn:aws:s3:::{bucket}/doc.pdf");
    assert!(allowed(&p, "s3:GetObject", &object));
    assert!(
        !allowed(&p, "s3:PutObject", &object),
        "the session policy caps"
    );
    let unscoped = aws.assume("unscoped", None).await;
    let u = aws.id().lookup(unscoped.access_key_id()).unwrap();
    assert!(allowed(&u, "s3:PutObject", &object));
    assert!(!allowed(
        &u,
        "s3:GetObject",
        "arn:aws:s3:::another-bucket/doc.pdf"
    ));
    assert!(allowed(
        &u,
        "s3:ListBucket",
        &format!("arn:aws:s3:::{bucket}")
    ));
    let user = aws.id().lookup(&aws.user_key()).unwrap();
    assert!(
        !allowed(&user, "s3:GetObject", &object),
        "the user itself has no S3 access"
    );

    let mut form = base.to_vec();
    form.extend([
        ("RoleArn", role_arn.as_str()),
        ("ExternalId", ext.as_str()),
        ("Policy", "{not json"),
    ]);
    let r = aws.signed().form(&form).send(&http).await;
    r.assert_error(400, "MalformedPolicyDocument");
    assert_eq!(aws.id().assume_role_count(), 2);
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn many_calls_with_one_session_are_one_assume_role() {
    let aws = Aws::start().await;
    let session = aws.assume("counted", Some(900)).await;
    let client = aws.sdk(session);
    for _ in 0..25 {
        client.get_caller_identity().send().await.unwrap();
    }
    assert_eq!(aws.id().assume_role_count(), 1);
    // Time passes within the session: still one.
    aws.clock.advance(Duration::from_secs(600));
    client.get_caller_identity().send().await.unwrap();
    assert_eq!(aws.id().assume_role_count(), 1);
    aws.stack.dev.stop().await;
}
