//! The local STS and S3 checked with AWS clients nobody here wrote: the aws CLI (v1, PyPI),
//! boto3 (presigned URLs used through curl) and the AWS SDK for JavaScript v3 (npm). Their
//! successes and denials must match the role's policy in `deploy/aws/iam`.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::Stack;

struct Creds {
    key: String,
    secret: String,
    token: String,
}

fn run(cmd: &mut Command, label: &str) -> (bool, String, String) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("tool must be installed (cargo xtask install)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    testkit::logs::capture_output(&format!("{label} (stderr)"), &stderr);
    (out.status.success(), stdout, stderr)
}

/// An `aws` command with the dev CA trusted, path-style addressing and no ambient config.
fn aws(s: &Stack, config_dir: &Path, creds: Option<&Creds>) -> Command {
    let config = config_dir.join("config");
    std::fs::write(
        &config,
        "[default]\nregion = eu-central-1\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n",
    )
    .unwrap();
    let mut cmd = Command::new(testkit::python_bin("aws"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", config_dir)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", config_dir.join("none"))
        .env("AWS_CA_BUNDLE", s.dev.ca_path())
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let identity = s.dev.aws_identity();
    match creds {
        Some(c) => {
            cmd.env("AWS_ACCESS_KEY_ID", &c.key)
                .env("AWS_SECRET_ACCESS_KEY", &c.secret)
                .env("AWS_SESSION_TOKEN", &c.token);
        }
        None => {
            cmd.env("AWS_ACCESS_KEY_ID", &identity.user().access_key_id)
                .env(
                    "AWS_SECRET_ACCESS_KEY",
                    identity.user().secret_access_key.expose(),
                );
        }
    }
    cmd
}

fn assume_role(s: &Stack, dir: &Path) -> Creds {
    let identity = s.dev.aws_identity();
    let (ok, out, err) = run(
        aws(s, dir, None).args([
            "sts",
            "assume-role",
            "--endpoint-url",
            s.dev.sts_url(),
            "--role-arn",
            &identity.role().arn,
            "--role-session-name",
            "aws-cli",
            "--external-id",
            identity.external_id().expose(),
            "--output",
            "json",
        ]),
        "aws sts assume-role",
    );
    assert!(ok, "assume-role failed: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v["Credentials"];
    let creds = Creds {
        key: c["AccessKeyId"].as_str().unwrap().to_owned(),
        secret: testkit::logs::secret(c["SecretAccessKey"].as_str().unwrap()),
        token: testkit::logs::secret(c["SessionToken"].as_str().unwrap()),
    };
    assert!(creds.key.starts_with("ASIA"));
    assert!(
        v["AssumedRoleUser"]["Arn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/")
    );
    creds
}

fn register(s: &Stack) {
    let identity = s.dev.aws_identity();
    testkit::logs::secret(identity.user().secret_access_key.expose());
    testkit::logs::secret(identity.external_id().expose());
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_cli_assumes_the_role_then_uses_s3_within_the_policy() {
    let s = Stack::start().await;
    register(&s);
    let dir = tempfile::tempdir().unwrap();
    let creds = assume_role(&s, dir.path());
    let s3 = s.dev.s3_url().to_owned();
    let bucket = s.dev.aws_identity().bucket().to_owned();

    let (ok, out, err) = run(
        aws(&s, dir.path(), Some(&creds)).args(["s3", "ls", "--endpoint-url", &s3]),
        "aws s3 ls",
    );
    assert!(ok, "{err}");
    assert!(
        out.contains(&bucket) && out.contains("bridge-archive"),
        "{out}"
    );

    // A multipart-sized file (the CLI splits at 8 MiB).
    let file = dir.path().join("big.bin");
    let data: Vec<u8> = (0..20u32 * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&file, &data).unwrap();
    let target = format!("s3://{bucket}/cli/big.bin");
    let (ok, _, err) = run(
        aws(&s, dir.path(), Some(&creds)).args([
            "s3",
            "cp",
            file.to_str().unwrap(),
            &target,
            "--endpoint-url",
            &s3,
        ]),
        "aws s3 cp up",
    );
    assert!(ok, "{err}");
    let back = dir.path().join("back.bin");
    let (ok, _, err) = run(
        aws(&s, dir.path(), Some(&creds)).args([
            "s3",
            "cp",
            &target,
            back.to_str().unwrap(),
            "--endpoint-url",
            &s3,
        ]),
        "aws s3 cp down",
    );
    assert!(ok, "{err}");
    assert!(
        std::fs::read(&back).unwrap() == data,
        "downloaded bytes differ"
    );
    let (ok, out, err) = run(
        aws(&s, dir.path(), Some(&creds)).args([
            "s3",
            "ls",
            &format!("s3://{bucket}/cli/"),
            "--endpoint-url",
            &s3,
        ]),
        "aws s3 ls prefix",
    );
    assert!(ok && out.contains("big.bin"), "{out}{err}");
    let (ok, _, err) = run(
        aws(&s, dir.path(), Some(&creds)).args(["s3", "rm", &target, "--endpoint-url", &s3]),
        "aws s3 rm",
    );
    assert!(ok, "{err}");

    // Denied by the policy: writing to the other bucket, deleting a bucket.
    let (ok, _, err) = run(
        aws(&s, dir.path(), Some(&creds)).args([
            "s3",
            "cp",
            file.to_str().unwrap(),
            "s3://bridge-archive/x.bin",
            "--endpoint-url",
            &s3,
        ]),
        "aws s3 cp denied",
    );
    assert!(!ok && err.contains("AccessDenied"), "{err}");
    let (ok, _, err) = run(
        aws(&s, dir.path(), Some(&creds)).args([
            "s3",
            "rb",
            &format!("s3://{bucket}"),
            "--endpoint-url",
            &s3,
        ]),
        "aws s3 rb denied",
    );
    assert!(!ok && err.contains("AccessDenied"), "{err}");

    // The long-term user may only assume the role: S3 with its keys is denied.
    let (ok, _, err) = run(
        aws(&s, dir.path(), None).args(["s3", "ls", "--endpoint-url", &s3]),
        "aws s3 ls as user",
    );
    assert!(!ok && err.contains("AccessDenied"), "{err}");
    s.dev.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_presigned_urls_work_through_curl() {
    let s = Stack::start().await;
    register(&s);
    let dir = tempfile::tempdir().unwrap();
    let creds = assume_role(&s, dir.path());
    let bucket = s.dev.aws_identity().bucket().to_owned();
    let script = testkit::workspace_root().join("tools/python/boto3_presign.py");
    let (ok, out, err) = run(
        Command::new(testkit::python_bin("python"))
            .arg(script)
            .args([
                s.dev.s3_url(),
                "eu-central-1",
                &bucket,
                "presigned.txt",
                "300",
            ])
            .env("AWS_ACCESS_KEY_ID", &creds.key)
            .env("AWS_SECRET_ACCESS_KEY", &creds.secret)
            .env("AWS_SESSION_TOKEN", &creds.token),
        "boto3 presign",
    );
    assert!(ok, "{err}");
    let urls: serde_json::Value = serde_json::from_str(&out).unwrap();
    let put = testkit::logs::secret(urls["put"].as_str().unwrap());
    let get = testkit::logs::secret(urls["get"].as_str().unwrap());
    let body = dir.path().join("body.txt");
    std::fs::write(&body, "hello from a presigned PUT").unwrap();
    let ca = s.dev.ca_path();
    let (ok, code, _) = run(
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&ca)
            .args(["-X", "PUT", "--data-binary"])
            .arg(format!("@{}", body.display()))
            .arg(&put),
        "curl presigned put",
    );
    assert!(ok && code == "200", "PUT {code}");
    let (ok, text, _) = run(
        Command::new("curl")
            .args(["-s", "--cacert"])
            .arg(&ca)
            .arg(&get),
        "curl presigned get",
    );
    assert!(ok && text == "hello from a presigned PUT", "{text}");
    // Tampering with the signed URL is refused.
    let (_, code, _) = run(
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&ca)
            .arg(get.replace("presigned.txt", "other.txt")),
        "curl tampered get",
    );
    assert_eq!(code, "403");
    s.dev.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_sdk_for_javascript_streams_a_put_and_lists_buckets() {
    let s = Stack::start().await;
    register(&s);
    let dir = tempfile::tempdir().unwrap();
    let creds = assume_role(&s, dir.path());
    let bucket = s.dev.aws_identity().bucket().to_owned();
    let js = |bucket: &str| {
        let mut cmd = testkit::node_script("aws_s3.mjs");
        cmd.args([
            s.dev.s3_url(),
            "eu-central-1",
            bucket,
            "js/streamed.bin",
            "3000000",
        ])
        .env("AWS_ACCESS_KEY_ID", &creds.key)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret)
        .env("AWS_SESSION_TOKEN", &creds.token)
        .env("NODE_EXTRA_CA_CERTS", s.dev.ca_path());
        cmd
    };
    let (ok, out, err) = run(&mut js(&bucket), "node aws_s3.mjs");
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["error"].is_null(), "{v}");
    assert_eq!(v["get_bytes_equal"], true);
    assert!(
        v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b == bucket.as_str())
    );
    let (ok, out, err) = run(&mut js("bridge-archive"), "node aws_s3.mjs denied");
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["error"]["code"], "AccessDenied", "{v}");
    assert_eq!(v["error"]["status"], 403);
    s.dev.stop().await;
}
