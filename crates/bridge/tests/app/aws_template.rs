//! `deploy/aws/template.yaml` agrees with the repository: `cfn-lint` (pinned in
//! `tools/python/requirements.txt`) finds nothing; the function's execution role and the
//! Scheduler's role carry exactly the policies of `deploy/aws/iam/caller-*.json` and
//! `scheduler-*.json` after placeholder substitution (the `iam` crate's tests evaluate those
//! files: the function may read its one secret and nothing else); every schedule file of
//! `deploy/aws/schedules/` has exactly one `AWS::Scheduler::Schedule` with the same fields, and
//! every schedule resource has its file; the function runs `bootstrap` on `provided.al2023`
//! with the caller's variables, Lambda's asynchronous retries and a failure destination; each
//! queue and the function's errors and throttles raise an alarm on the SNS topic.
//!
//! YAML is read with PyYAML from the pinned venv; the template uses long-form intrinsics only,
//! which this file resolves for a made-up account and region.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schedule::file::ScheduleFile;
use serde_json::{Map, Value, json};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-central-1";

fn root() -> PathBuf {
    testkit::workspace_root()
}

fn template() -> Value {
    let file = root().join("deploy/aws/template.yaml");
    let out = std::process::Command::new(testkit::python_bin("python"))
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(&file)
        .output()
        .expect("the Python venv must be installed (cargo xtask install)");
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The template with its intrinsics resolved for [`ACCOUNT`], [`REGION`] and the parameters'
/// defaults (overridden by `params`).
struct Stack {
    template: Value,
    params: BTreeMap<String, String>,
}

impl Stack {
    fn new(overrides: &[(&str, &str)]) -> Self {
        let template = template();
        let mut params = BTreeMap::new();
        for (name, p) in template["Parameters"].as_object().unwrap() {
            if let Some(d) = p.get("Default") {
                let d = match d {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                params.insert(name.clone(), d);
            }
        }
        for (k, v) in overrides {
            params.insert((*k).to_owned(), (*v).to_owned());
        }
        Self { template, params }
    }

    fn resources(&self) -> &Map<String, Value> {
        self.template["Resources"].as_object().unwrap()
    }

    fn resource(&self, id: &str) -> &Value {
        self.resources()
            .get(id)
            .unwrap_or_else(|| panic!("no resource {id}"))
    }

    /// The resolved `Properties` of a resource.
    fn properties(&self, id: &str) -> Value {
        self.resolve(&self.resource(id)["Properties"])
    }

    fn of_type(&self, kind: &str) -> Vec<String> {
        self.resources()
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn property(&self, id: &str, name: &str) -> String {
        self.resolve(&self.resource(id)["Properties"][name])
            .as_str()
            .unwrap_or_else(|| panic!("{id}.{name} is not a string"))
            .to_owned()
    }

    /// `Ref` of a parameter, a pseudo parameter or a resource.
    fn reference(&self, name: &str) -> Value {
        match name {
            "AWS::AccountId" => return json!(ACCOUNT),
            "AWS::Region" => return json!(REGION),
            "AWS::Partition" => return json!("aws"),
            "AWS::NoValue" => return Value::Null,
            _ => {}
        }
        if let Some(v) = self.params.get(name) {
            return json!(v);
        }
        let kind = self.resource(name)["Type"].as_str().unwrap().to_owned();
        match kind.as_str() {
            "AWS::Serverless::Function" => json!(self.property(name, "FunctionName")),
            "AWS::SQS::Queue" => json!(format!(
                "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{}",
                self.property(name, "QueueName")
            )),
            "AWS::SNS::Topic" => json!(format!(
                "arn:aws:sns:{REGION}:{ACCOUNT}:{}",
                self.property(name, "TopicName")
            )),
            other => panic!("Ref of a {other} is not modelled here"),
        }
    }

    /// `Fn::GetAtt` of a resource.
    fn attribute(&self, id: &str, attr: &str) -> Value {
        let kind = self.resource(id)["Type"].as_str().unwrap().to_owned();
        let name = |p: &str| self.property(id, p);
        json!(match (kind.as_str(), attr) {
            ("AWS::Serverless::Function", "Arn") => format!(
                "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}",
                name("FunctionName")
            ),
            ("AWS::IAM::Role", "Arn") => format!(
                "arn:aws:iam::{ACCOUNT}:role{}{}",
                name("Path"),
                name("RoleName")
            ),
            ("AWS::SQS::Queue", "Arn") => {
                format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", name("QueueName"))
            }
            ("AWS::SQS::Queue", "QueueName") => name("QueueName"),
            (k, a) => panic!("Fn::GetAtt {a} of a {k} is not modelled here"),
        })
    }

    fn sub(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            let end = after.find('}').expect("unclosed ${ in Fn::Sub");
            let name = &after[..end];
            let value = match name.split_once('.') {
                Some((id, attr)) => self.attribute(id, attr),
                None => self.reference(name),
            };
            out.push_str(value.as_str().expect("Fn::Sub of a non-string"));
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The value with `Ref`, `Fn::GetAtt` and `Fn::Sub` replaced (`Fn::If` and conditions are
    /// left alone).
    fn resolve(&self, v: &Value) -> Value {
        match v {
            Value::Object(m) if m.len() == 1 && m.contains_key("Ref") => {
                self.reference(m["Ref"].as_str().unwrap())
            }
            Value::Object(m) if m.len() == 1 && m.contains_key("Fn::GetAtt") => {
                let parts: Vec<&str> = match &m["Fn::GetAtt"] {
                    Value::Array(a) => a.iter().map(|p| p.as_str().unwrap()).collect(),
                    Value::String(s) => s.splitn(2, '.').collect(),
                    other => panic!("Fn::GetAtt {other}"),
                };
                self.attribute(parts[0], parts[1])
            }
            Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Sub") => {
                json!(self.sub(m["Fn::Sub"].as_str().expect("Fn::Sub with a variable map")))
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.resolve(v)).collect()),
            other => other.clone(),
        }
    }
}

/// A file of `deploy/aws/iam/` rendered with the test's values, as JSON.
fn iam_file(name: &str, secret_name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("deploy/aws/iam").join(name)).unwrap();
    let rendered = schedule::file::render(
        &text,
        &[
            ("AccountId", ACCOUNT),
            ("Region", REGION),
            ("SecretName", secret_name),
        ],
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&rendered).unwrap()
}

#[test]
fn cfn_lint_passes_on_the_template() {
    let template = root().join("deploy/aws/template.yaml");
    let out = std::process::Command::new(testkit::python_bin("cfn-lint"))
        .arg("--")
        .arg(&template)
        .output()
        .expect("cfn-lint must be installed (cargo xtask install)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "cfn-lint: {text}"
    );
}

#[test]
fn the_roles_carry_exactly_the_policies_of_the_iam_files() {
    for secret_name in ["btp-aws-bridge/caller/xsuaa", "prod/bridge-key"] {
        let stack = Stack::new(&[("SecretName", secret_name)]);
        for (id, prefix) in [("CallerRole", "caller"), ("SchedulerRole", "scheduler")] {
            let role = stack.properties(id);
            let file = iam_file(&format!("{prefix}-role.json"), secret_name);
            for field in ["RoleName", "Path", "Description", "MaxSessionDuration"] {
                assert_eq!(role[field], file[field], "{id}.{field}");
            }
            assert_eq!(
                role["AssumeRolePolicyDocument"],
                iam_file(&format!("{prefix}-trust-policy.json"), secret_name),
                "{id}: trust policy"
            );
            assert_eq!(
                role["Policies"],
                json!([{
                    "PolicyName": file["PermissionPolicyName"],
                    "PolicyDocument": iam_file(&format!("{prefix}-permission-policy.json"), secret_name),
                }]),
                "{id}: permission policy"
            );
            // Nothing else grants the role anything.
            let mut keys: Vec<&String> = role.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "AssumeRolePolicyDocument",
                    "Description",
                    "MaxSessionDuration",
                    "Path",
                    "Policies",
                    "RoleName"
                ],
                "{id}"
            );
        }
        // No other IAM resource and no SAM policy templates.
        let mut iam = stack.of_type("AWS::IAM::Role");
        iam.sort();
        assert_eq!(iam, ["CallerRole", "SchedulerRole"]);
        for (id, r) in stack.resources() {
            let kind = r["Type"].as_str().unwrap();
            assert!(
                !kind.starts_with("AWS::IAM::") || kind == "AWS::IAM::Role",
                "{id}: {kind}"
            );
        }
        assert!(stack.resource("CallerFunction")["Properties"]["Policies"].is_null());
    }
}

#[test]
fn every_schedule_file_has_exactly_one_schedule_resource_and_vice_versa() {
    let stack = Stack::new(&[]);
    let mut in_template: BTreeMap<String, Value> = BTreeMap::new();
    for id in stack.of_type("AWS::Scheduler::Schedule") {
        let p = stack.properties(&id);
        let name = p["Name"].as_str().unwrap().to_owned();
        assert!(
            in_template.insert(name.clone(), p).is_none(),
            "two schedules named {name}"
        );
    }
    let mut files = 0;
    for entry in std::fs::read_dir(root().join("deploy/aws/schedules")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let rendered =
            schedule::file::render(&text, &[("AccountId", ACCOUNT), ("Region", REGION)]).unwrap();
        let parsed =
            ScheduleFile::parse(&rendered).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut file: Value = serde_json::from_str(&rendered).unwrap();
        // The API's idempotency token has no place in CloudFormation.
        if let Some(m) = file.as_object_mut() {
            m.remove("ClientToken");
        }
        let resource = in_template.remove(&parsed.name).unwrap_or_else(|| {
            panic!(
                "{}: no schedule {} in the template",
                path.display(),
                parsed.name
            )
        });
        assert_eq!(resource, file, "{}", path.display());
        // The targets are the template's own function, role and queue.
        assert_eq!(
            resource["Target"]["Arn"],
            stack.attribute("CallerFunction", "Arn"),
            "{}",
            path.display()
        );
        assert_eq!(
            resource["Target"]["RoleArn"],
            stack.attribute("SchedulerRole", "Arn")
        );
        if let Some(dlq) = parsed.target.dead_letter_config.and_then(|d| d.arn) {
            assert_eq!(json!(dlq), stack.attribute("DeadLetterQueue", "Arn"));
        }
    }
    assert!(files > 0, "no schedule files");
    assert!(
        in_template.is_empty(),
        "schedules in the template without a file in deploy/aws/schedules: {:?}",
        in_template.keys().collect::<Vec<_>>()
    );
}

#[test]
fn the_function_runs_bootstrap_with_the_callers_settings_and_async_retries() {
    let stack = Stack::new(&[("AppUrl", "https://bridge.cfapps.example")]);
    let f = stack.properties("CallerFunction");
    assert_eq!(f["Runtime"], "provided.al2023");
    assert_eq!(f["Handler"], "bootstrap");
    assert_eq!(f["Architectures"], json!(["x86_64"]));
    assert_eq!(f["MemorySize"], 128);
    let timeout = f["Timeout"].as_u64().unwrap();
    assert!((3..=900).contains(&timeout));
    assert_eq!(f["CodeUri"], "../../dist/aws/bootstrap.zip");
    assert_eq!(f["Role"], stack.attribute("CallerRole", "Arn"));
    assert_eq!(f["FunctionName"], "btp-aws-bridge-caller");

    // The variables the caller reads (crates/caller/src/settings.rs), and only those.
    let vars = f["Environment"]["Variables"].as_object().unwrap();
    let mut names: Vec<&str> = vars.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "BRIDGE_APP_URL",
            "BRIDGE_SECRET_ID",
            "BRIDGE_XSUAA_CLIENT_ID",
            "BRIDGE_XSUAA_URL"
        ]
    );
    let settings = std::fs::read_to_string(root().join("crates/caller/src/settings.rs")).unwrap();
    for name in &names {
        assert!(
            settings.contains(&format!("\"{name}\"")),
            "{name} is not a setting of the caller"
        );
    }
    assert_eq!(vars["BRIDGE_APP_URL"], "https://bridge.cfapps.example");
    assert_eq!(vars["BRIDGE_SECRET_ID"], "btp-aws-bridge/caller/xsuaa");
    // The optional ones are left out when their parameter is empty.
    for (var, param, condition) in [
        ("BRIDGE_XSUAA_URL", "XsuaaUrl", "HasXsuaaUrl"),
        (
            "BRIDGE_XSUAA_CLIENT_ID",
            "XsuaaClientId",
            "HasXsuaaClientId",
        ),
    ] {
        assert_eq!(
            stack.resource("CallerFunction")["Properties"]["Environment"]["Variables"][var],
            json!({"Fn::If": [condition, {"Ref": param}, {"Ref": "AWS::NoValue"}]})
        );
        assert_eq!(
            stack.template["Conditions"][condition],
            json!({"Fn::Not": [{"Fn::Equals": [{"Ref": param}, ""]}]})
        );
    }
    // The secret is not in the template: no Secrets Manager resource, no value parameter.
    assert!(stack.of_type("AWS::SecretsManager::Secret").is_empty());

    let invoke = &f["EventInvokeConfig"];
    assert_eq!(invoke["MaximumRetryAttempts"], 2);
    let age = invoke["MaximumEventAgeInSeconds"].as_u64().unwrap();
    assert!((60..=21_600).contains(&age));
    assert_eq!(invoke["DestinationConfig"]["OnFailure"]["Type"], "SQS");
    assert_eq!(
        invoke["DestinationConfig"]["OnFailure"]["Destination"],
        stack.attribute("CallerFailedQueue", "Arn")
    );

    // The log group and the failure queue are the ones the execution role may write to.
    let policy = iam_file(
        "caller-permission-policy.json",
        "btp-aws-bridge/caller/xsuaa",
    );
    let resources: Vec<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Resource"].as_str().unwrap().to_owned())
        .collect();
    let group = stack.property("CallerLogGroup", "LogGroupName");
    assert_eq!(group, "/aws/lambda/btp-aws-bridge-caller");
    assert!(resources.contains(&format!(
        "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    )));
    let failed = stack.attribute("CallerFailedQueue", "Arn");
    assert!(
        resources
            .iter()
            .any(|r| Some(r.as_str()) == failed.as_str())
    );
}

#[test]
fn errors_throttles_and_every_queue_raise_an_alarm_on_the_topic() {
    let stack = Stack::new(&[]);
    let topic = stack.reference("AlarmTopic");
    let mut watched: Vec<(String, String, String)> = Vec::new();
    for id in stack.of_type("AWS::CloudWatch::Alarm") {
        let a = stack.properties(&id);
        assert_eq!(a["AlarmActions"], json!([topic]), "{id}");
        assert_eq!(a["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
        assert_eq!(a["Threshold"], 1);
        assert_eq!(a["TreatMissingData"], "notBreaching");
        let dims = a["Dimensions"].as_array().unwrap();
        assert_eq!(dims.len(), 1, "{id}");
        watched.push((
            a["Namespace"].as_str().unwrap().to_owned(),
            a["MetricName"].as_str().unwrap().to_owned(),
            dims[0]["Value"].as_str().unwrap().to_owned(),
        ));
    }
    let function = stack.property("CallerFunction", "FunctionName");
    let mut want = vec![
        (
            "AWS/Lambda".to_owned(),
            "Errors".to_owned(),
            function.clone(),
        ),
        ("AWS/Lambda".to_owned(), "Throttles".to_owned(), function),
    ];
    for q in stack.of_type("AWS::SQS::Queue") {
        want.push((
            "AWS/SQS".to_owned(),
            "ApproximateNumberOfMessagesVisible".to_owned(),
            stack.property(&q, "QueueName"),
        ));
    }
    watched.sort();
    want.sort();
    assert_eq!(watched, want);
    // The email subscription exists only with an address.
    assert_eq!(
        stack.resource("AlarmEmailSubscription")["Condition"],
        "HasAlarmEmail"
    );
}
