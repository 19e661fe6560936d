//! The catalog read by UI5's OData V4 model (`sap.ui.model.odata.v4.ODataModel` from the pinned
//! OpenUI5 npm package) in Debian's chromium: `bridge dev` on ephemeral ports, then
//! `tools/node/ui5_catalog.mjs` (playwright-core) signs in as alice, opens a test page the
//! browser serves on the app's origin, and lets UI5 read `$metadata`, `Buckets` (sorted,
//! counted, filtered), one bucket by key, `getBuckets()`, and a key that does not exist. The
//! browser, playwright-core and OpenUI5 come from `cargo xtask install`; without them this test
//! fails (it never skips).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use crate::browser::{DEMO_BUCKETS, chromium, register_binding_secrets, start_dev};
use crate::util::node_json;

/// The environment variable the script reads the password from (never argv).
const PASSWORD_VAR: &str = "UI5_CATALOG_PASSWORD";

/// How long the whole run may take (each of its steps has its own 30 s timeout).
const UI5_DEADLINE: Duration = Duration::from_secs(240);

/// The OpenUI5 version `tools/node/package.json` pins.
fn pinned_openui5() -> String {
    let manifest = testkit::workspace_root()
        .join("tools")
        .join("node")
        .join("package.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    manifest["dependencies"]["@openui5/sap.ui.core"]
        .as_str()
        .expect("tools/node/package.json pins @openui5/sap.ui.core")
        .to_owned()
}

/// Fails (never skips) when `cargo xtask install` has not installed the pinned OpenUI5.
fn assert_openui5_installed() {
    let openui5 = testkit::tools_dir()
        .join("node")
        .join("node_modules")
        .join("@openui5")
        .join("sap.ui.core");
    assert!(
        openui5.join("package.json").is_file(),
        "{} is missing: run `cargo xtask install` (it installs the pinned npm packages of \
         tools/node)",
        openui5.display()
    );
}

/// Runs `ui5_catalog.mjs` against `app` as alice (see [`node_json`]).
fn read_with_ui5(app: &str, password: &str, chromium: &Path) -> serde_json::Value {
    node_json(
        "ui5_catalog.mjs",
        &[app, "alice", PASSWORD_VAR],
        &[
            (PASSWORD_VAR, OsStr::new(password)),
            ("CHROMIUM_PATH", chromium.as_os_str()),
        ],
        UI5_DEADLINE,
    )
}

/// The `name`s of a JSON array of buckets, in its order.
fn names(buckets: &serde_json::Value) -> Vec<&str> {
    buckets
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {buckets}"))
        .iter()
        .map(|b| {
            assert_eq!(b["id"], b["name"], "id and name differ: {b}");
            b["name"].as_str().unwrap_or_else(|| panic!("no name: {b}"))
        })
        .collect()
}

#[test]
fn ui5_odata_v4_model_reads_the_catalog() {
    testkit::logs::init();
    let chromium = chromium();
    assert_openui5_installed();
    let dir = tempfile::tempdir().unwrap();
    // A bucket made here (a folder of the local S3), beside the demo buckets: UI5 must read what
    // S3 holds, and the filter on `bridge` must leave it out.
    let extra = format!("ui5-test-{}", std::process::id());
    std::fs::create_dir_all(dir.path().join("s3").join(&extra)).unwrap();

    let (mut dev, banner) = start_dev(dir.path());
    register_binding_secrets(dir.path());
    let seen = read_with_ui5(&banner.app, &banner.alice_password, &chromium);
    dev.stop();

    // The pinned OpenUI5 booted (not some other copy).
    assert_eq!(seen["ui5Version"], pinned_openui5().as_str(), "{seen}");

    // (a) $metadata through the meta model.
    let metadata = &seen["metadata"];
    assert_eq!(metadata["entityKind"], "EntityType", "{seen}");
    assert_eq!(metadata["entityType"], "CatalogService.Buckets", "{seen}");
    assert_eq!(metadata["key"], serde_json::json!(["id"]), "{seen}");
    assert_eq!(
        metadata["properties"],
        serde_json::json!({"id": "Edm.String", "name": "Edm.String", "created": "Edm.DateTimeOffset"}),
        "{seen}"
    );
    assert_eq!(metadata["createdType"], "Edm.DateTimeOffset", "{seen}");
    assert_eq!(metadata["createdPrecision"], 3, "{seen}");
    assert_eq!(metadata["function"], "FunctionImport", "{seen}");
    assert_eq!(
        metadata["functionReturnType"], "CatalogService.Buckets",
        "{seen}"
    );

    // (b) the list binding, sorted by name, with $count.
    let mut expected: Vec<&str> = DEMO_BUCKETS
        .iter()
        .copied()
        .chain([extra.as_str()])
        .collect();
    expected.sort_unstable();
    assert_eq!(names(&seen["buckets"]), expected, "{seen}");
    assert_eq!(seen["count"], expected.len(), "{seen}");
    for bucket in seen["buckets"].as_array().unwrap() {
        assert!(
            bucket["created"].as_str().is_some_and(|c| !c.is_empty()),
            "a bucket without a creation date: {seen}"
        );
    }

    // (c) the filter `startswith(name,'bridge')`.
    assert_eq!(names(&seen["filtered"]), DEMO_BUCKETS, "{seen}");

    // (d) one bucket by key.
    assert_eq!(seen["single"]["id"], "bridge-documents", "{seen}");
    assert_eq!(seen["single"]["name"], "bridge-documents", "{seen}");

    // (e) the function getBuckets(): the same buckets, in S3's order.
    let called: BTreeSet<&str> = names(&seen["functionResult"]).into_iter().collect();
    assert_eq!(
        called,
        expected.iter().copied().collect::<BTreeSet<_>>(),
        "{seen}"
    );
    assert_eq!(
        seen["functionResult"].as_array().unwrap().len(),
        expected.len(),
        "{seen}"
    );

    // (f) a key that does not exist: 404 with the OData error's message.
    assert_eq!(seen["missing"]["status"], 404, "{seen}");
    assert_eq!(
        seen["missing"]["message"], "No bucket with this key",
        "{seen}"
    );
    assert_eq!(seen["missing"]["code"], "404", "{seen}");

    // (g) the created value has the shape Edm.DateTimeOffset's UI5 type accepts.
    assert!(
        seen["formatted"].as_str().is_some_and(|f| !f.is_empty()),
        "{seen}"
    );

    // UI5 sent each request on its own ($direct), only GETs, never $batch.
    let requests: Vec<&str> = seen["catalogRequests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("GET /catalog/") && !r.contains("$batch")),
        "{seen}"
    );
    for path in [
        "GET /catalog/$metadata",
        "GET /catalog/getBuckets()",
        "GET /catalog/Buckets('no-such')",
    ] {
        assert!(
            requests.contains(&path),
            "UI5 did not request {path}: {seen}"
        );
    }

    // Nothing went wrong but the deliberate 404, and only the files UI5's tooling would add to
    // the package's source layout were stood in for.
    assert_eq!(seen["consoleErrors"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["failedRequests"], serde_json::json!([]), "{seen}");
    for synthesized in seen["synthesized"].as_array().unwrap() {
        let synthesized = synthesized.as_str().unwrap();
        assert!(
            synthesized == "sap-ui-version.json"
                || (synthesized.starts_with("sap/ui/core/themes/")
                    && synthesized.ends_with(".css")),
            "{seen}"
        );
    }
}
