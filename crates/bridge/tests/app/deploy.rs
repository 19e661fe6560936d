//! The deployment descriptors agree with the app: `deploy/btp/manifest.yml` and `mta.yaml` run
//! `bridge serve` on the binary buildpack, bind the services the app looks up, probe health
//! endpoints that answer 200, and carry an `aws-config` the app accepts. YAML is read with
//! PyYAML (installed with the pinned aws CLI), not by a parser of ours.

use crate::common::Setup;

fn yaml(path: &str) -> serde_json::Value {
    let file = testkit::workspace_root().join(path);
    let out = std::process::Command::new(testkit::python_bin("python"))
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn manifest_runs_bridge_serve_with_its_bindings_and_live_health_checks() {
    let manifest = yaml("deploy/btp/manifest.yml");
    let vars = yaml("deploy/btp/vars.example.yml");
    let apps = manifest["applications"].as_array().unwrap();
    assert_eq!(apps.len(), 1);
    let app = &apps[0];
    assert_eq!(app["command"], "./bridge serve");
    assert_eq!(strings(&app["buildpacks"]), ["binary_buildpack"]);
    assert_eq!(app["env"]["LOG_FORMAT"], "json");
    // Every service variable has a default in the example vars file.
    let services: Vec<String> = strings(&app["services"])
        .iter()
        .map(|s| {
            let var = s.trim_start_matches("((").trim_end_matches("))");
            vars[var]
                .as_str()
                .unwrap_or_else(|| panic!("{var} not in vars"))
                .to_owned()
        })
        .collect();
    assert_eq!(
        services,
        [
            "bridge-uaa",
            "bridge-credstore",
            "bridge-s3-pl",
            "aws-config"
        ]
    );

    // The probed endpoints answer 200 on the real app, without credentials.
    let setup = Setup::start().await;
    for key in [
        "health-check-http-endpoint",
        "readiness-health-check-http-endpoint",
    ] {
        let path = app[key].as_str().unwrap();
        let r = reqwest::get(format!("{}{path}", setup.app)).await.unwrap();
        assert_eq!(r.status(), 200, "{key} {path}");
    }
    setup.stop().await;
}

#[test]
fn mta_declares_the_same_services_and_an_aws_config_the_app_accepts() {
    let mta = yaml("deploy/btp/mta.yaml");
    let module = &mta["modules"][0];
    assert_eq!(module["parameters"]["buildpack"], "binary_buildpack");
    assert_eq!(module["parameters"]["command"], "./bridge serve");
    let requires: Vec<&str> = module["requires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let resources = mta["resources"].as_array().unwrap();
    let names: Vec<&str> = resources
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(requires, names);
    let by_name = |n: &str| resources.iter().find(|r| r["name"] == n).unwrap();
    assert_eq!(by_name("bridge-uaa")["parameters"]["service"], "xsuaa");
    assert_eq!(
        by_name("bridge-uaa")["parameters"]["service-plan"],
        "application"
    );
    let descriptor = testkit::workspace_root().join("deploy/btp").join(
        by_name("bridge-uaa")["parameters"]["path"]
            .as_str()
            .unwrap(),
    );
    assert!(descriptor.is_file(), "{}", descriptor.display());
    assert_eq!(
        by_name("bridge-credstore")["parameters"]["service"],
        "credstore"
    );
    assert_eq!(
        by_name("bridge-s3-pl")["parameters"]["service"],
        "privatelink"
    );
    let aws = by_name("aws-config");
    assert_eq!(aws["type"], "org.cloudfoundry.user-provided-service");

    // The user-provided config, bound as CF would bind it, passes the app's own validation.
    let vcap = serde_json::json!({
        "user-provided": [{
            "name": "aws-config", "label": "user-provided", "tags": [],
            "credentials": aws["parameters"]["config"],
        }],
        "privatelink": [{
            "name": "bridge-s3-pl", "label": "privatelink", "plan": "standard", "tags": [],
            "credentials": { "hostname": "*.vpce-0123-abcd.s3.eu-central-1.vpce.amazonaws.com" },
        }],
    });
    let vcap = cfenv::Vcap::from_json(&vcap.to_string(), "VCAP_SERVICES").unwrap();
    let settings = awslink::AwsSettings::from_vcap(&vcap, None).unwrap();
    assert_eq!(settings.region, "eu-central-1");
    assert_eq!(
        settings.s3_endpoint.url().unwrap().as_str(),
        "https://bucket.vpce-0123-abcd.s3.eu-central-1.vpce.amazonaws.com/"
    );
}
