//! The scheduled caller's files of `deploy/aws/iam/` (`caller-*.json`, `scheduler-*.json`):
//! they render with dev values and load; the function's execution role may read its one
//! secret, write its own logs and send to its failure queue, and nothing else; only Lambda may
//! assume it; the Scheduler's role may invoke exactly the function and send to exactly the
//! dead-letter queue, and only the Scheduler of the account may assume it.

use iam::deploy::{self, CallerDeployment, CallerValues};
use iam::template;
use iam::{Decision, Evaluation, RequestContext, evaluate, trust_allows};

use crate::common::check;

const DEV: CallerValues<'static> = CallerValues {
    account_id: "000000000000",
    region: "eu-central-1",
    secret_name: "btp-aws-bridge/caller/xsuaa",
};

fn load() -> CallerDeployment {
    deploy::load_caller(&DEV).unwrap()
}

fn session_arn(role: &str) -> String {
    format!("arn:aws:sts::{}:assumed-role/{role}/s", DEV.account_id)
}

/// Whether a session of `role` may do `action` on `resource`, by the role's permission policy
/// alone (no resource policy, no session policy).
fn allowed(role: &deploy::Role, action: &str, resource: &str) -> bool {
    let ctx = RequestContext::new(session_arn(&role.name), DEV.account_id, action, resource);
    evaluate(
        &Evaluation {
            identity: &[&role.permissions],
            resource: None,
            session: None,
        },
        &ctx,
    )
    .is_allowed()
}

#[test]
fn files_load_with_dev_values() {
    let d = load();
    assert_eq!(d.caller.name, "btp-aws-bridge-caller");
    assert_eq!(
        d.caller.arn,
        "arn:aws:iam::000000000000:role/btp-aws-bridge-caller"
    );
    assert_eq!(
        d.caller.permission_policy_name,
        "btp-aws-bridge-caller-secret-logs"
    );
    assert_eq!(d.scheduler.name, "btp-aws-bridge-scheduler");
    assert_eq!(
        d.scheduler.arn,
        "arn:aws:iam::000000000000:role/btp-aws-bridge-scheduler"
    );
    assert!(!d.caller.description.is_empty() && !d.scheduler.description.is_empty());
}

#[test]
fn every_caller_file_names_exactly_its_placeholders() {
    let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    check(
        [
            (deploy::CALLER_ROLE_JSON, names(&[])),
            (deploy::CALLER_TRUST_POLICY_JSON, names(&[])),
            (
                deploy::CALLER_PERMISSION_POLICY_JSON,
                names(&["AccountId", "Region", "SecretName"]),
            ),
            (deploy::SCHEDULER_ROLE_JSON, names(&[])),
            (deploy::SCHEDULER_TRUST_POLICY_JSON, names(&["AccountId"])),
            (
                deploy::SCHEDULER_PERMISSION_POLICY_JSON,
                names(&["AccountId", "Region"]),
            ),
        ],
        |text| {
            let mut p = template::placeholders(text);
            p.sort();
            p.dedup();
            p
        },
    );
}

#[test]
fn the_function_reads_its_secret_and_nothing_else() {
    let d = load();
    let secret = DEV.secret_arn("AbC123");
    let acct = DEV.account_id;
    let other_secret = format!("arn:aws:secretsmanager:eu-central-1:{acct}:secret:other-AbC123");
    let log_group =
        format!("arn:aws:logs:eu-central-1:{acct}:log-group:/aws/lambda/btp-aws-bridge-caller");
    let log_stream = format!("{log_group}:log-stream:2026/12/01/[$LATEST]abcdef");
    let failed = DEV.queue_arn(deploy::CALLER_FAILURE_QUEUE);
    let cases: Vec<((&str, String), bool)> = vec![
        (("secretsmanager:GetSecretValue", secret.clone()), true),
        // The suffix is exactly six characters: a longer name with the same prefix is another
        // secret.
        (
            ("secretsmanager:GetSecretValue", DEV.secret_arn("AbC1234")),
            false,
        ),
        (
            (
                "secretsmanager:GetSecretValue",
                format!(
                    "arn:aws:secretsmanager:eu-central-1:{acct}:secret:btp-aws-bridge/caller/xsuaa-2-AbC123"
                ),
            ),
            false,
        ),
        (
            ("secretsmanager:GetSecretValue", other_secret.clone()),
            false,
        ),
        (
            (
                "secretsmanager:GetSecretValue",
                format!(
                    "arn:aws:secretsmanager:us-east-1:{acct}:secret:btp-aws-bridge/caller/xsuaa-AbC123"
                ),
            ),
            false,
        ),
        (
            (
                "secretsmanager:GetSecretValue",
                "arn:aws:secretsmanager:eu-central-1:111122223333:secret:btp-aws-bridge/caller/xsuaa-AbC123".to_owned(),
            ),
            false,
        ),
        (("secretsmanager:PutSecretValue", secret.clone()), false),
        (("secretsmanager:DescribeSecret", secret.clone()), false),
        (("secretsmanager:CreateSecret", secret.clone()), false),
        (("secretsmanager:DeleteSecret", secret.clone()), false),
        (("secretsmanager:ListSecrets", "*".to_owned()), false),
        (("logs:CreateLogStream", format!("{log_group}:*")), true),
        (("logs:PutLogEvents", log_stream.clone()), true),
        (("logs:CreateLogGroup", format!("{log_group}:*")), false),
        (("logs:DeleteLogGroup", format!("{log_group}:*")), false),
        (
            (
                "logs:PutLogEvents",
                format!(
                    "arn:aws:logs:eu-central-1:{acct}:log-group:/aws/lambda/other:log-stream:x"
                ),
            ),
            false,
        ),
        (("sqs:SendMessage", failed.clone()), true),
        (("sqs:ReceiveMessage", failed.clone()), false),
        (
            (
                "sqs:SendMessage",
                DEV.queue_arn(deploy::SCHEDULER_DEAD_LETTER_QUEUE),
            ),
            false,
        ),
        (
            ("s3:GetObject", "arn:aws:s3:::bridge-documents/a".to_owned()),
            false,
        ),
        (("s3:ListAllMyBuckets", "*".to_owned()), false),
        (
            (
                "sts:AssumeRole",
                format!("arn:aws:iam::{acct}:role/btp-bridge-s3"),
            ),
            false,
        ),
        (
            (
                "iam:PassRole",
                format!("arn:aws:iam::{acct}:role/btp-aws-bridge-caller"),
            ),
            false,
        ),
        (
            ("iam:CreateUser", format!("arn:aws:iam::{acct}:user/x")),
            false,
        ),
        (("lambda:InvokeFunction", DEV.function_arn()), false),
        (("kms:Decrypt", "*".to_owned()), false),
    ];
    check(cases, |(action, resource)| {
        allowed(&d.caller, action, resource)
    });
}

#[test]
fn the_scheduler_invokes_exactly_the_function_and_dead_letters_to_exactly_its_queue() {
    let d = load();
    let acct = DEV.account_id;
    let function = DEV.function_arn();
    let dlq = DEV.queue_arn(deploy::SCHEDULER_DEAD_LETTER_QUEUE);
    let cases: Vec<((&str, String), bool)> = vec![
        (("lambda:InvokeFunction", function.clone()), true),
        (("lambda:InvokeFunction", format!("{function}:1")), false),
        (("lambda:InvokeFunction", format!("{function}-2")), false),
        (
            (
                "lambda:InvokeFunction",
                format!("arn:aws:lambda:eu-central-1:{acct}:function:other"),
            ),
            false,
        ),
        (("lambda:UpdateFunctionCode", function.clone()), false),
        (("lambda:InvokeAsync", function.clone()), false),
        (("sqs:SendMessage", dlq.clone()), true),
        (("sqs:SendMessage", format!("{dlq}-2")), false),
        (
            (
                "sqs:SendMessage",
                DEV.queue_arn(deploy::CALLER_FAILURE_QUEUE),
            ),
            false,
        ),
        (("sqs:DeleteMessage", dlq.clone()), false),
        (("sqs:ReceiveMessage", dlq.clone()), false),
        (
            ("secretsmanager:GetSecretValue", DEV.secret_arn("AbC123")),
            false,
        ),
        (("s3:ListAllMyBuckets", "*".to_owned()), false),
        (("iam:PassRole", "*".to_owned()), false),
    ];
    check(cases, |(action, resource)| {
        allowed(&d.scheduler, action, resource)
    });
}

#[test]
fn only_lambda_may_assume_the_execution_role() {
    let d = load();
    let role = d.caller.arn.clone();
    let ask = |who: &str, account: &str| {
        trust_allows(
            &d.caller.trust,
            &RequestContext::new(who, account, "sts:AssumeRole", role.as_str()),
        )
    };
    assert_eq!(ask("lambda.amazonaws.com", ""), Decision::Allow);
    assert!(!ask("scheduler.amazonaws.com", "").is_allowed());
    assert!(!ask("arn:aws:iam::000000000000:user/btp-bridge", DEV.account_id).is_allowed());
    assert!(
        !ask(
            "arn:aws:sts::000000000000:assumed-role/btp-bridge-s3/app",
            DEV.account_id
        )
        .is_allowed()
    );
}

#[test]
fn only_the_accounts_scheduler_may_assume_the_scheduler_role() {
    let d = load();
    let role = d.scheduler.arn.clone();
    let ask = |who: &str, source_account: Option<&str>| {
        let mut ctx = RequestContext::new(who, "", "sts:AssumeRole", role.as_str());
        if let Some(a) = source_account {
            ctx = ctx.with_key("aws:SourceAccount", a);
        }
        trust_allows(&d.scheduler.trust, &ctx)
    };
    assert_eq!(
        ask("scheduler.amazonaws.com", Some(DEV.account_id)),
        Decision::Allow
    );
    // The confused-deputy guard: the Scheduler acting for another account is refused.
    assert!(!ask("scheduler.amazonaws.com", Some("111122223333")).is_allowed());
    assert!(!ask("scheduler.amazonaws.com", None).is_allowed());
    assert!(!ask("lambda.amazonaws.com", Some(DEV.account_id)).is_allowed());
}

#[test]
fn bad_caller_values_are_refused_naming_the_placeholder() {
    let err = |v: CallerValues<'_>| deploy::load_caller(&v).unwrap_err().to_string();
    assert!(
        err(CallerValues {
            account_id: "12",
            ..DEV
        })
        .contains("AccountId")
    );
    assert!(
        err(CallerValues {
            region: "EU central",
            ..DEV
        })
        .contains("Region")
    );
    assert!(
        err(CallerValues {
            secret_name: "a\"b",
            ..DEV
        })
        .contains("SecretName")
    );
    assert!(
        err(CallerValues {
            secret_name: "",
            ..DEV
        })
        .contains("SecretName")
    );
}

#[test]
fn a_broken_caller_file_is_named() {
    let broken = deploy::CALLER_PERMISSION_POLICY_JSON.replace("\"Allow\"", "\"allow\"");
    let e = deploy::load_caller_texts(
        &DEV,
        [
            deploy::CALLER_ROLE_JSON,
            deploy::CALLER_TRUST_POLICY_JSON,
            &broken,
        ],
        [
            deploy::SCHEDULER_ROLE_JSON,
            deploy::SCHEDULER_TRUST_POLICY_JSON,
            deploy::SCHEDULER_PERMISSION_POLICY_JSON,
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("caller-permission-policy.json"), "{e}");
    let unknown = deploy::SCHEDULER_TRUST_POLICY_JSON.replace("${AccountId}", "${Account}");
    let e = deploy::load_caller_texts(
        &DEV,
        [
            deploy::CALLER_ROLE_JSON,
            deploy::CALLER_TRUST_POLICY_JSON,
            deploy::CALLER_PERMISSION_POLICY_JSON,
        ],
        [
            deploy::SCHEDULER_ROLE_JSON,
            &unknown,
            deploy::SCHEDULER_PERMISSION_POLICY_JSON,
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("scheduler-trust-policy.json") && e.contains("Account"),
        "{e}"
    );
}
