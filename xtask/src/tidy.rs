//! Tidy rules, run as tests: every Rust file starts with a `//!` doc saying what it is for,
//! internal crates are depended on through `workspace = true`, no `dbg!` is left behind,
//! every environment variable the code names is documented in `docs/CONFIG.md`, and no
//! shipped server bypasses `httpserve`'s limits.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "node_modules")
            {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let root = crate::root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("xtask"), &mut files);
    files
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` doc: {missing:#?}"
    );
}

#[test]
fn no_dbg_macro() {
    let needle = concat!("dbg", "!(");
    let offenders: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .contains(needle)
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "dbg! left in: {offenders:#?}");
}

#[test]
fn internal_dependencies_use_the_workspace() {
    let root = crate::root();
    let crates: Vec<String> = std::fs::read_dir(root.join("crates"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut bad = Vec::new();
    for c in &crates {
        let manifest = std::fs::read_to_string(root.join("crates").join(c).join("Cargo.toml"))
            .unwrap_or_default();
        assert!(
            manifest.contains(&format!("name = \"{c}\"")),
            "crates/{c}: package name must equal the folder name"
        );
        for line in manifest.lines() {
            for dep in &crates {
                let names_dep = line.trim_start().starts_with(&format!("{dep} "))
                    || line.trim_start().starts_with(&format!("{dep}."));
                if names_dep && !line.contains("workspace = true") {
                    bad.push(format!("crates/{c}: {line}"));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "internal dependencies not through the workspace: {bad:#?}"
    );
}

#[test]
fn every_environment_variable_is_documented() {
    let root = crate::root();
    let doc = std::fs::read_to_string(root.join("docs").join("CONFIG.md")).unwrap_or_default();
    let mut names = std::collections::BTreeSet::new();
    for file in all_rust_files() {
        if file
            .components()
            .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "xtask")
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for quoted in text.split('"').skip(1).step_by(2) {
            let looks_like_var = quoted.len() > 3
                && quoted
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
                && (quoted.starts_with("BRIDGE_")
                    || quoted.starts_with("VCAP_")
                    || quoted.starts_with("CF_")
                    || ["PORT", "RUST_LOG", "LOG_FORMAT"].contains(&quoted));
            if looks_like_var {
                names.insert(quoted.to_owned());
            }
        }
    }
    let undocumented: Vec<&String> = names
        .iter()
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "environment variables missing from docs/CONFIG.md: {undocumented:?}"
    );
}

#[test]
fn servers_go_through_httpserve() {
    // `axum::serve` has no header-read or idle timeout and waits forever for open connections
    // at shutdown; every server the workspace ships runs through `httpserve` instead
    // (`docs/BOUNDS.md`). Tests may still stand up throwaway servers with it.
    let needle = concat!("axum::", "serve(");
    let offenders: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "tests"))
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .contains(needle)
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "servers outside httpserve: {offenders:#?}"
    );
}

/// A dependency as a manifest declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dep {
    /// `dependencies`, `dev-dependencies` or `build-dependencies` (target-specific tables
    /// count as their kind).
    kind: String,
    name: String,
    optional: bool,
}

/// The dependencies of a `Cargo.toml`, read line by line: enough for our manifests, which
/// declare one dependency per line (`name.workspace = true`, `name = "1"`,
/// `name = { workspace = true, optional = true }`).
fn manifest_deps(manifest: &str) -> Vec<Dep> {
    let mut kind: Option<String> = None;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(table) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let last = table.rsplit('.').next().unwrap_or(table);
            kind = ["dependencies", "dev-dependencies", "build-dependencies"]
                .contains(&last)
                .then(|| last.to_owned());
            continue;
        }
        let Some(kind) = &kind else { continue };
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let name = key.trim().split('.').next().unwrap_or("").trim_matches('"');
        if name.is_empty() {
            continue;
        }
        out.push(Dep {
            kind: kind.clone(),
            name: name.to_owned(),
            optional: value.replace(' ', "").contains("optional=true"),
        });
    }
    out
}

/// Crates that must do no IO: parsers and models only.
const PURE_CRATES: &[&str] = &["cfenv", "odata", "iam", "schedule", "documents"];

/// What a pure crate may depend on: data types, (de)serialisation, errors, our pure crates.
const PURE_DEPS: &[&str] = &[
    "serde",
    "serde_json",
    "thiserror",
    "url",
    "base64",
    "chrono",
    "chrono-tz",
    "percent-encoding",
    "uuid",
    // Hashing (SHA-256 of documents) is computation, not IO.
    "aws-lc-rs",
    "cfenv",
    "odata",
    "iam",
    "schedule",
    "documents",
];

/// Crates that are tools for development and tests, never part of what is deployed.
const DEV_CRATES: &[&str] = &["devstack", "testkit", "soak"];

/// The rules of ARCHITECTURE.md's invariants about dependencies, for one crate's manifest;
/// returns what breaks them.
fn dependency_violations(krate: &str, manifest: &str) -> Vec<String> {
    let mut bad = Vec::new();
    for dep in manifest_deps(manifest) {
        let normal = dep.kind != "dev-dependencies";
        if normal && PURE_CRATES.contains(&krate) && !PURE_DEPS.contains(&dep.name.as_str()) {
            bad.push(format!(
                "{krate} is pure (no IO) but depends on `{}`",
                dep.name
            ));
        }
        if normal && dep.name == "aws-sdk-sts" && krate != "awslink" {
            bad.push(format!(
                "{krate} depends on `aws-sdk-sts`: only awslink calls STS"
            ));
        }
        if normal && dep.name == "devstack" && !DEV_CRATES.contains(&krate) {
            // The one exception: `bridge dev`, behind the default `dev` feature, so the
            // deployed build (`--no-default-features`) has no dev stack.
            if !(krate == "bridge" && dep.optional) {
                bad.push(format!(
                    "{krate} depends on `devstack` outside [dev-dependencies] (only `bridge`'s optional `dev` feature may)"
                ));
            }
        }
        if normal && dep.name == "testkit" && !DEV_CRATES.contains(&krate) {
            bad.push(format!(
                "{krate} depends on `testkit` outside [dev-dependencies]"
            ));
        }
    }
    bad
}

/// Source files (not tests) outside `allowed` that name `needle`.
fn sources_naming(needle: &str, allowed: &[&str]) -> Vec<String> {
    let root = crate::root();
    all_rust_files()
        .into_iter()
        .filter(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned();
            rel.starts_with("crates/")
                && rel.contains("/src/")
                && !allowed.iter().any(|a| rel.starts_with(a))
                && std::fs::read_to_string(p)
                    .unwrap_or_default()
                    .contains(needle)
        })
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn dependencies_keep_the_architecture_invariants() {
    let root = crate::root();
    let mut bad = Vec::new();
    for entry in std::fs::read_dir(root.join("crates"))
        .expect("the crates/ folder")
        .flatten()
    {
        let krate = entry.file_name().to_string_lossy().into_owned();
        let manifest = std::fs::read_to_string(entry.path().join("Cargo.toml")).unwrap_or_default();
        bad.extend(dependency_violations(&krate, &manifest));
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn only_awslink_and_the_dev_commands_name_the_sdk_and_the_dev_stack() {
    let sts = sources_naming(
        "aws_sdk_sts",
        &["crates/awslink/", "crates/devstack/", "crates/soak/"],
    );
    assert!(sts.is_empty(), "STS SDK named outside awslink: {sts:#?}");
    let dev = sources_naming(
        "devstack::",
        &[
            "crates/devstack/",
            "crates/testkit/",
            "crates/soak/",
            "crates/bridge/src/commands/dev.rs",
            "crates/bridge/src/commands/rotate.rs",
        ],
    );
    assert!(
        dev.is_empty(),
        "devstack named outside the dev commands: {dev:#?}"
    );
}

#[test]
fn the_dependency_checker_catches_broken_manifests() {
    let pure = "[package]\nname = \"odata\"\n\n[dependencies]\nserde.workspace = true\ntokio = { workspace = true, features = [\"net\"] }\n\n[dev-dependencies]\nreqwest.workspace = true\n";
    assert_eq!(
        dependency_violations("odata", pure),
        vec!["odata is pure (no IO) but depends on `tokio`".to_owned()],
        "an IO crate in a pure crate's [dependencies]; dev-dependencies are fine"
    );
    let sts = "[dependencies]\naws-sdk-sts.workspace = true\n";
    assert_eq!(dependency_violations("awslink", sts), Vec::<String>::new());
    assert_eq!(dependency_violations("bridge", sts).len(), 1);
    let dev_dep = "[dependencies]\ndevstack.workspace = true\n[dev-dependencies]\ndevstack.workspace = true\n";
    assert_eq!(
        dependency_violations("bridge", dev_dep).len(),
        1,
        "not optional"
    );
    assert_eq!(dependency_violations("xsuaa", dev_dep).len(), 1);
    assert_eq!(dependency_violations("soak", dev_dep).len(), 0);
    let gated = "[dependencies]\ndevstack = { workspace = true, optional = true }\n\n[target.'cfg(unix)'.dependencies]\ntestkit.workspace = true\n";
    assert_eq!(
        dependency_violations("bridge", gated),
        vec!["bridge depends on `testkit` outside [dev-dependencies]".to_owned()]
    );
    assert_eq!(dependency_violations("credstore", gated).len(), 2);
}
