//! Local STS, authentication: SigV4 failures (wrong secret, unknown key, skew, wrong region,
//! missing or malformed signatures), session tokens, expired sessions, presigned requests,
//! GetCallerIdentity and the action/version checks.

use std::time::Duration;

use aws_credential_types::Credentials;
use devstack::aws_identity::ACCOUNT_ID;

/// The role of `deploy/aws/iam/role.json`.
const ROLE_NAME: &str = "btp-bridge-s3";

use crate::sts_support::{Aws, sdk_error};

const GET_CALLER_IDENTITY: &[(&str, &str)] =
    &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")];

#[tokio::test]
async fn the_user_is_who_get_caller_identity_says() {
    let aws = Aws::start().await;
    let me = aws
        .sdk(aws.user_credentials())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.arn(), Some(aws.user_arn().as_str()));
    assert_eq!(me.account(), Some(ACCOUNT_ID));
    let user_id = me.user_id().unwrap();
    assert!(
        user_id.starts_with("AIDA") && user_id.len() == 21,
        "{user_id}"
    );

    // The raw shape.
    let r = aws
        .signed()
        .form(GET_CALLER_IDENTITY)
        .send(&aws.stack.http())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.starts_with(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    ));
    assert_eq!(r.tag("Arn"), aws.user_arn());
    assert_eq!(r.tag("UserId"), user_id);
    assert_eq!(r.tag("Account"), ACCOUNT_ID);
    assert_eq!(r.tag("RequestId"), r.header("x-amzn-requestid"));
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_is_signature_does_not_match() {
    let aws = Aws::start().await;
    let wrong = Credentials::new(
        aws.user_key(),
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "test",
    );
    let err = aws
        .sdk(wrong.clone())
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    let (code, message) = sdk_error(&err);
    assert_eq!(code, "SignatureDoesNotMatch");
    assert!(message.starts_with("The request signature we calculated does not match"));

    let r = aws
        .signed()
        .creds(&wrong)
        .form(GET_CALLER_IDENTITY)
        .send(&aws.stack.http())
        .await;
    r.assert_error(403, "SignatureDoesNotMatch");

    // A body other than the signed one is a mismatch too.
    let mut tampered = aws.signed().form(GET_CALLER_IDENTITY);
    tampered.tampered_body = Some(format!("{}&Extra=1", tampered.body));
    tampered
        .send(&aws.stack.http())
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn an_unknown_key_is_invalid_client_token_id() {
    let aws = Aws::start().await;
    let unknown = Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "test",
    );
    let err = aws
        .sdk(unknown.clone())
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sdk_error(&err),
        (
            "InvalidClientTokenId".to_owned(),
            "The security token included in the request is invalid.".to_owned()
        )
    );
    let r = aws
        .signed()
        .creds(&unknown)
        .form(GET_CALLER_IDENTITY)
        .send(&aws.stack.http())
        .await;
    r.assert_error(403, "InvalidClientTokenId");
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn the_request_time_must_be_within_fifteen_minutes() {
    let aws = Aws::start().await;
    let http = aws.stack.http();
    let now = aws.now();
    let min = |m: u64| Duration::from_secs(m * 60);

    for ok in [now - min(14), now + min(14)] {
        let r = aws
            .signed()
            .time(ok)
            .form(GET_CALLER_IDENTITY)
            .send(&http)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = aws
        .signed()
        .time(now - min(16))
        .form(GET_CALLER_IDENTITY)
        .send(&http)
        .await;
    let m = r.assert_error(403, "SignatureDoesNotMatch");
    assert!(m.starts_with("Signature expired: "), "{m}");
    assert!(m.ends_with(" - 15 min.)"), "{m}");
    let r = aws
        .signed()
        .time(now + min(16))
        .form(GET_CALLER_IDENTITY)
        .send(&http)
        .await;
    let m = r.assert_error(403, "SignatureDoesNotMatch");
    assert!(m.starts_with("Signature not yet current: "), "{m}");
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn the_scope_must_name_the_region_and_the_service() {
    let aws = Aws::start().await;
    let http = aws.stack.http();
    let mut s = aws.signed().form(GET_CALLER_IDENTITY);
    s.region = "us-east-1".into();
    let r = s.send(&http).await;
    let m = r.assert_error(403, "SignatureDoesNotMatch");
    assert_eq!(
        m,
        format!(
            "Credential should be scoped to a valid region, not 'us-east-1'. Expected '{}'.",
            aws.region()
        )
    );

    // The SDK, configured for another region, fails the same way.
    let err = aws
        .sdk_in(aws.user_credentials(), "us-west-2")
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(sdk_error(&err).0, "SignatureDoesNotMatch");

    let mut s = aws.signed().form(GET_CALLER_IDENTITY);
    s.service = "s3".into();
    let r = s.send(&http).await;
    let m = r.assert_error(403, "SignatureDoesNotMatch");
    assert_eq!(m, "Credential should be scoped to correct service: 'sts'.");
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn missing_and_malformed_signatures() {
    let aws = Aws::start().await;
    let http = aws.stack.http();
    let url = format!("{}/", aws.url());
    let body = crate::common::form(GET_CALLER_IDENTITY);
    let post = |auth: Option<&str>| {
        let mut req = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-amz-date", "20260101T000000Z")
            .body(body.clone());
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req
    };

    let r = crate::sts_support::Reply::of(post(None).send().await.unwrap()).await;
    let m = r.assert_error(403, "MissingAuthenticationToken");
    assert_eq!(m, "Request is missing Authentication Token");

    let r = crate::sts_support::Reply::of(
        post(Some("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/eu-central-1/sts/aws4_request"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let m = r.assert_error(400, "IncompleteSignature");
    assert!(
        m.contains("'Signature'") && m.contains("'SignedHeaders'"),
        "{m}"
    );

    let r = crate::sts_support::Reply::of(
        post(Some(
            "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    r.assert_error(400, "IncompleteSignature");
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn session_tokens_must_match_and_be_signed() {
    let aws = Aws::start().await;
    let http = aws.stack.http();
    let session = aws.assume("tokens", None).await;

    // Right token: fine, and the caller is the role session.
    let r = aws
        .signed()
        .creds(&session)
        .form(GET_CALLER_IDENTITY)
        .send(&http)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.tag("Arn"),
        format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/tokens")
    );

    // No token with a temporary key.
    let mut s = aws.signed().creds(&session).form(GET_CALLER_IDENTITY);
    s.token = None;
    s.send(&http)
        .await
        .assert_error(403, "InvalidClientTokenId");

    // Another session's token.
    let other = aws.assume("other", None).await;
    let mut s = aws.signed().creds(&session).form(GET_CALLER_IDENTITY);
    s.token = other.session_token().map(str::to_owned);
    s.send(&http)
        .await
        .assert_error(403, "InvalidClientTokenId");

    // A token with the long-term key.
    let mut s = aws.signed().form(GET_CALLER_IDENTITY);
    s.token = session.session_token().map(str::to_owned);
    s.send(&http)
        .await
        .assert_error(403, "InvalidClientTokenId");
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn an_expired_session_is_expired_token() {
    let aws = Aws::start().await;
    let session = aws.assume("short", Some(900)).await;
    let client = aws.sdk(session.clone());
    client.get_caller_identity().send().await.unwrap();

    aws.clock.advance(Duration::from_secs(899));
    client.get_caller_identity().send().await.unwrap();

    // The SDK signs on the same (advanced) clock, so only the session's expiry is at issue.
    aws.clock.advance(Duration::from_secs(1));
    let err = client.get_caller_identity().send().await.unwrap_err();
    assert_eq!(
        sdk_error(&err),
        (
            "ExpiredToken".to_owned(),
            "The security token included in the request is expired".to_owned()
        )
    );
    let r = aws
        .signed()
        .creds(&session)
        .form(GET_CALLER_IDENTITY)
        .send(&aws.stack.http())
        .await;
    r.assert_error(403, "ExpiredToken");

    // The user's long-term key does not expire.
    aws.clock.advance(Duration::from_secs(86_400 * 30));
    aws.sdk(aws.user_credentials())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn presigned_get_requests_work_until_they_expire() {
    let aws = Aws::start().await;
    let http = aws.stack.http();
    let query = crate::common::form(GET_CALLER_IDENTITY);
    let presigned = |time| {
        let mut s = aws.signed().time(time);
        s.method = "GET";
        s.url = format!("{}/?{query}", aws.url());
        s.presign = Some(Duration::from_secs(60));
        s
    };
    let r = presigned(aws.now()).send(&http).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.tag("Arn"), aws.user_arn());

    let r = presigned(aws.now() - Duration::from_secs(61))
        .send(&http)
        .await;
    let m = r.assert_error(403, "SignatureDoesNotMatch");
    assert_eq!(m, "Request has expired");
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn unknown_actions_and_versions_are_invalid_action() {
    let aws = Aws::start().await;
    let http = aws.stack.http();
    let r = aws
        .signed()
        .form(&[("Action", "GetSessionToken"), ("Version", "2011-06-15")])
        .send(&http)
        .await;
    let m = r.assert_error(400, "InvalidAction");
    assert_eq!(
        m,
        "Could not find operation GetSessionToken for version 2011-06-15"
    );

    let r = aws
        .signed()
        .form(&[("Action", "GetCallerIdentity")])
        .send(&http)
        .await;
    let m = r.assert_error(400, "InvalidAction");
    assert_eq!(
        m,
        "Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED"
    );

    let r = aws
        .signed()
        .form(&[("Version", "2011-06-15")])
        .send(&http)
        .await;
    r.assert_error(400, "MissingAction");
    aws.stack.dev.stop().await;
}
