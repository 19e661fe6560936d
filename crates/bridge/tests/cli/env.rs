//! `bridge env check`.

use crate::util::{bridge, run};

const SECRET: &str = "env-check-password-424242";

fn vcap(credstore_credentials: serde_json::Value) -> String {
    serde_json::json!({
        "credstore": [{
            "label": "credstore", "name": "my-credstore", "plan": "standard",
            "tags": ["credstore"], "credentials": credstore_credentials
        }],
        "user-provided": [{
            "label": "user-provided", "name": "aws-config", "tags": [],
            "credentials": {"region": "eu-central-1"}
        }]
    })
    .to_string()
}

#[test]
fn reports_bindings_without_values() {
    testkit::logs::init();
    testkit::logs::secret(SECRET);
    let ok = vcap(serde_json::json!({
        "url": "https://credstore.example/api/v1/credentials", "username": "u", "password": SECRET
    }));
    let r = run(
        bridge()
            .env("VCAP_SERVICES", &ok)
            .env("PORT", "8080")
            .args(["env", "check"]),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("credstore: ok (my-credstore)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("aws-config"), "{}", r.stdout);
    assert!(
        r.stdout.contains("password"),
        "field names are shown: {}",
        r.stdout
    );
    assert!(r.stdout.contains("PORT: 8080"));
    assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET));
}

#[test]
fn missing_or_broken_required_binding_fails() {
    testkit::logs::init();
    let no_url = vcap(serde_json::json!({"username": "u", "password": SECRET}));
    let r = run(
        bridge()
            .env("VCAP_SERVICES", &no_url)
            .args(["env", "check"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("my-credstore") && r.stdout.contains("credentials.url"),
        "names service and field: {}",
        r.stdout
    );
    assert!(!r.stdout.contains(SECRET));

    let r = run(
        bridge()
            .env("VCAP_SERVICES", "{}")
            .args(["env", "check", "--require", "credstore,xsuaa"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("credstore: MISSING"), "{}", r.stdout);
    assert!(r.stdout.contains("xsuaa: MISSING"), "{}", r.stdout);

    let r = run(
        bridge().env("VCAP_SERVICES", "[1,2").args(["env", "check"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("VCAP_SERVICES") && r.stdout.contains("line"),
        "{}",
        r.stdout
    );

    let r = run(
        bridge()
            .env("VCAP_SERVICES", "{}")
            .env("PORT", "http")
            .args(["env", "check"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("PORT"), "{}", r.stdout);

    let r = run(bridge().args(["env", "check"]), "", false);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("VCAP_SERVICES"), "{}", r.stdout);
}

/// The `aws-config` settings `bridge serve` will use are shown, the external id masked.
#[test]
fn reports_aws_config() {
    testkit::logs::init();
    testkit::logs::secret(SECRET);
    const EXTERNAL_ID: &str = "env-check-external-id-1717";
    let vcap = serde_json::json!({
        "credstore": [{
            "label": "credstore", "name": "my-credstore", "tags": ["credstore"],
            "credentials": {
                "url": "https://credstore.example/api/v1/credentials",
                "username": "u", "password": SECRET
            }
        }],
        "privatelink": [{
            "label": "privatelink", "name": "my-s3-pl", "tags": [],
            "credentials": {"hostname": "*.vpce-0123-abcd.s3.eu-central-1.vpce.amazonaws.com"}
        }],
        "user-provided": [{
            "label": "user-provided", "name": "my-aws", "tags": [],
            "credentials": {
                "region": "eu-central-1",
                "roleArn": "arn:aws:iam::123456789012:role/btp-aws-bridge-s3",
                "externalId": EXTERNAL_ID,
                "bucket": "my-documents",
                "stsEndpoint": "https://sts.example:8443"
            }
        }]
    })
    .to_string();
    let r = run(
        bridge()
            .env_remove("BRIDGE_AWS_CONFIG_INSTANCE")
            .env("VCAP_SERVICES", &vcap)
            .args(["env", "check", "--require", "credstore,aws-config"])
            .args(["--aws-config-instance", "my-aws"]),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for want in [
        "aws-config: ok (my-aws)",
        "region       eu-central-1",
        "role ARN     arn:aws:iam::123456789012:role/btp-aws-bridge-s3",
        "external id  set (value masked)",
        "bucket       my-documents",
        "STS          https://sts.example:8443",
        "S3           https://bucket.vpce-0123-abcd.s3.eu-central-1.vpce.amazonaws.com (privatelink my-s3-pl), virtual-hosted",
        "AWS keys     Credential Store namespace aws, name aws-iam-user",
    ] {
        assert!(r.stdout.contains(want), "{want:?} in\n{}", r.stdout);
    }
    for never in [EXTERNAL_ID, SECRET] {
        assert!(
            !r.stdout.contains(never) && !r.stderr.contains(never),
            "{never:?} in\n{}{}",
            r.stdout,
            r.stderr
        );
    }
}

/// A missing or wrong `aws-config` is named with the field, and fails when required.
#[test]
fn missing_or_broken_aws_config() {
    testkit::logs::init();
    let check = |vcap: &str, require: &str| {
        run(
            bridge()
                .env_remove("BRIDGE_AWS_CONFIG_INSTANCE")
                .env("VCAP_SERVICES", vcap)
                .args(["env", "check", "--require", require]),
            "",
            false,
        )
    };
    // `vcap` binds an `aws-config` without `roleArn`.
    let broken = vcap(serde_json::json!({
        "url": "https://credstore.example/api/v1/credentials", "username": "u", "password": SECRET
    }));
    let r = check(&broken, "credstore");
    assert_eq!(r.code, 0, "optional by default: {}", r.stdout);
    assert!(
        r.stdout.contains("aws-config: not usable (optional)") && r.stdout.contains("roleArn"),
        "{}",
        r.stdout
    );
    let r = check(&broken, "aws-config");
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("aws-config: MISSING OR INVALID (required)")
            && r.stdout.contains("`aws-config`")
            && r.stdout.contains("roleArn"),
        "names instance and field: {}",
        r.stdout
    );

    let misspelt = serde_json::json!({"user-provided": [{
        "label": "user-provided", "name": "aws-config", "tags": [],
        "credentials": {
            "region": "eu-central-1",
            "roleArn": "arn:aws:iam::123456789012:role/btp-aws-bridge-s3",
            "externalID": "x1"
        }
    }]})
    .to_string();
    let r = check(&misspelt, "aws-config");
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stdout.contains("unknown key `externalID`"),
        "{}",
        r.stdout
    );

    let r = check("{}", "aws-config");
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("aws-config: MISSING OR INVALID (required)")
            && r.stdout.contains("aws-config"),
        "{}",
        r.stdout
    );
}
