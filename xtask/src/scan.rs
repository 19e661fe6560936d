//! The secret scan: every test process records the secret values it used (`*.secrets`) and
//! writes its logs and the output of the programs it ran (`*.log`, `*.out`) under
//! `target/test-logs` (see the `testkit` crate). This checks that no recorded secret occurs in
//! any log or output file. A leak is reported by file and secret number, never by value.

use std::path::Path;

use anyhow::{Context as _, bail};

/// `s` with every byte but RFC 3986's unreserved characters as `%XX` (upper case, as SigV4
/// encodes query values).
fn percent_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Scans `dir`; returns the number of (secrets, files) checked.
#[allow(clippy::print_stdout)]
pub(crate) fn run(dir: &Path) -> anyhow::Result<(usize, usize)> {
    let mut secrets = std::collections::BTreeSet::new();
    let mut logs = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("no test logs in {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("secrets") => {
                for line in std::fs::read_to_string(&path)?.lines() {
                    if line.trim().len() >= 8 {
                        secrets.insert(line.trim().to_owned());
                        // A secret in a URL (a presigned URL's session token, a query
                        // parameter) is logged percent-encoded: look for that form too.
                        secrets.insert(percent_encoded(line.trim()));
                    }
                }
            }
            Some("log" | "out") => logs.push(path),
            _ => {}
        }
    }
    if secrets.is_empty() {
        bail!(
            "secret scan: no secrets were recorded in {}; the tests did not register any",
            dir.display()
        );
    }
    let secrets: Vec<String> = secrets.into_iter().collect();
    let leaks = find_leaks(&secrets, &logs)?;
    let bytes: u64 = logs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    if !leaks.is_empty() {
        for (file, n) in &leaks {
            println!("LEAK: secret #{n} appears in {}", file);
        }
        bail!("secret scan: {} leak(s)", leaks.len());
    }
    println!(
        "secret scan: {} secrets checked against {} log files ({} bytes): none found",
        secrets.len(),
        logs.len(),
        bytes
    );
    Ok((secrets.len(), logs.len()))
}

fn find_leaks(
    secrets: &[String],
    logs: &[std::path::PathBuf],
) -> anyhow::Result<Vec<(String, usize)>> {
    // Index the secrets by their first 8 bytes and slide one window over each file: one hash
    // lookup per byte instead of one substring search per secret (hundreds of secrets, tens of
    // MiB of TRACE logs).
    const PREFIX: usize = 8;
    let mut by_prefix: std::collections::HashMap<&[u8], Vec<usize>> =
        std::collections::HashMap::new();
    for (i, s) in secrets.iter().enumerate() {
        by_prefix
            .entry(&s.as_bytes()[..PREFIX])
            .or_default()
            .push(i);
    }
    let mut leaks = Vec::new();
    for log in logs {
        let text = std::fs::read(log)?;
        let mut found = std::collections::BTreeSet::new();
        for start in 0..text.len().saturating_sub(PREFIX - 1) {
            if let Some(candidates) = by_prefix.get(&text[start..start + PREFIX]) {
                for &i in candidates {
                    if text[start..].starts_with(secrets[i].as_bytes()) {
                        found.insert(i);
                    }
                }
            }
        }
        leaks.extend(
            found
                .into_iter()
                .map(|i| (log.display().to_string(), i + 1)),
        );
    }
    Ok(leaks)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percent_encoded_forms_are_secrets_too() {
        assert_eq!(percent_encoded("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(percent_encoded("plain-token_1.2~"), "plain-token_1.2~");
    }

    #[test]
    fn finds_a_planted_secret_and_passes_clean_logs() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("a.secrets"), "s3cr3t-value-123\nshort\n").unwrap();
        std::fs::write(dir.join("a.log"), "INFO all good\n").unwrap();
        assert_eq!(run(&dir).unwrap(), (1, 1));
        std::fs::write(dir.join("b.out"), "oops s3cr3t-value-123 leaked\n").unwrap();
        let err = run(&dir).unwrap_err().to_string();
        assert!(err.contains("1 leak"), "{err}");
        assert!(!err.contains("s3cr3t"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
