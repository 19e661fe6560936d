//! Tidy rules, run as tests: every Rust file starts with a `//!` doc saying what it is for,
//! internal crates are depended on through `workspace = true`, no `dbg!` is left behind, and
//! every environment variable the code names is documented in `docs/CONFIG.md`.

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
