//! The SAP CAP reference service, prepared in a work directory of its own (never run in
//! place): its files copied, `npm ci`, `cds deploy` and its loader's rows, each redone only
//! when what it depends on changed, and started as its README says
//! (`NODE_ENV=production node node_modules/@sap/cds/bin/serve.js`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::proc::{Server, run};

/// What `npm ci` depends on.
const NPM_FILES: [&str; 2] = ["package.json", "package-lock.json"];
/// What the deployed and loaded `db.sqlite` depends on (besides the row count).
const DB_DIRS: [&str; 3] = ["db", "srv", "scripts"];

/// The prepared service: its directory and its SQLite file.
pub struct Cap {
    pub dir: PathBuf,
    pub db: PathBuf,
}

/// The contents of `paths` under `root` (directories: their files, sorted), concatenated with
/// each file's name: a change anywhere changes the result.
fn fingerprint(root: &Path, paths: &[&str]) -> Vec<u8> {
    let mut files = Vec::new();
    for p in paths {
        let path = root.join(p);
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path);
        }
    }
    let mut out = Vec::new();
    for f in files {
        out.extend_from_slice(f.strip_prefix(root).unwrap().to_string_lossy().as_bytes());
        out.push(0);
        out.extend(std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display())));
        out.push(0);
    }
    out
}

/// Copies `rel` (a file or a flat directory) from `src` to `dst`, writable.
fn copy(src: &Path, dst: &Path, rel: &str) {
    let (from, to) = (src.join(rel), dst.join(rel));
    if from.is_dir() {
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap() {
            let e = e.unwrap();
            if e.path().is_file() {
                copy(
                    src,
                    dst,
                    &format!("{rel}/{}", e.file_name().to_string_lossy()),
                );
            }
        }
    } else {
        let _ = std::fs::remove_file(&to);
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        let mut perm = std::fs::metadata(&to).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o644);
        std::fs::set_permissions(&to, perm).unwrap();
    }
}

/// Brings `work` up to date with the reference in `src` for `rows` rows.
pub fn prepare(src: &Path, work: &Path, rows: u64) -> Cap {
    assert!(
        src.join("package.json").is_file() && src.join("scripts/load.py").is_file(),
        "BENCH_CAP_DIR={}: no CAP reference service there (package.json, scripts/load.py)",
        src.display()
    );
    std::fs::create_dir_all(work).unwrap();
    let db = work.join("db.sqlite");

    let npm_print = fingerprint(src, &NPM_FILES);
    let npm_stamp = work.join(".bench-npm");
    if std::fs::read(&npm_stamp).ok().as_deref() != Some(&npm_print[..])
        || !work.join("node_modules/@sap/cds").is_dir()
    {
        for f in NPM_FILES {
            copy(src, work, f);
        }
        let _ = std::fs::remove_dir_all(work.join("node_modules"));
        println!(
            "  CAP: npm ci in {} (compiles better-sqlite3 when no prebuilt binary can be downloaded: minutes)",
            work.display()
        );
        run(
            "npm ci",
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(work),
        );
        std::fs::write(&npm_stamp, &npm_print).unwrap();
    }

    let mut db_print = fingerprint(src, &DB_DIRS);
    db_print.extend_from_slice(format!("rows={rows}").as_bytes());
    let db_stamp = work.join(".bench-db");
    if std::fs::read(&db_stamp).ok().as_deref() != Some(&db_print[..]) || !db.is_file() {
        for d in DB_DIRS {
            let _ = std::fs::remove_dir_all(work.join(d));
            copy(src, work, d);
        }
        for f in ["db.sqlite", "db.sqlite-wal", "db.sqlite-shm"] {
            let _ = std::fs::remove_file(work.join(f));
        }
        let _ = std::fs::remove_file(&db_stamp);
        println!(
            "  CAP: cds deploy and scripts/load.py for {rows} rows (about a minute per 250 000 rows)"
        );
        run(
            "cds deploy",
            Command::new("npx")
                .args(["--no-install", "cds", "deploy", "--to", "sqlite:db.sqlite"])
                .current_dir(work),
        );
        let out = run(
            "scripts/load.py",
            Command::new("python3")
                .args(["scripts/load.py", "db.sqlite", &rows.to_string()])
                .current_dir(work),
        );
        for line in out.lines() {
            println!("    {line}");
        }
        std::fs::write(&db_stamp, &db_print).unwrap();
    }
    Cap {
        dir: work.to_owned(),
        db,
    }
}

/// Versions of what runs CAP, one line.
pub fn versions(cap: &Cap) -> String {
    run(
        "node versions",
        Command::new("node")
            .args([
                "-e",
                "const v = p => require(p + '/package.json').version; \
                 console.log('node ' + process.version + ', @sap/cds ' + v('@sap/cds') + \
                 ', @cap-js/sqlite ' + v('@cap-js/sqlite') + ', better-sqlite3 ' + \
                 v('better-sqlite3'))",
            ])
            .current_dir(&cap.dir),
    )
    .trim()
    .to_owned()
}

/// The CAP service on a free port, logging as it does by default into `log`.
pub fn spawn(cap: &Cap, log: &Path) -> Server {
    let port = crate::support::free_port();
    let mut cmd = Command::new("node");
    cmd.arg("node_modules/@sap/cds/bin/serve.js")
        .current_dir(&cap.dir)
        .env("NODE_ENV", "production")
        .env("PORT", port.to_string());
    Server::spawn("CAP", cmd, port, log)
}
