//! Our `documents` table filled with the CAP reference's rows: the schema is the app's own
//! (`runs::Store::open` runs the migrations), the rows are copied in bulk from CAP's
//! `docs_Documents` by Python's `sqlite3` (SQLite: `INSERT … SELECT` over the attached file,
//! in transactions of 100 000 rows, the text index kept by the migration's triggers) and by
//! `psql`'s `\copy` (PostgreSQL: CSV from the same file, one transaction), then
//! `VACUUM ANALYZE` on PostgreSQL (what autovacuum does after a bulk load; the text index's
//! statistics live in its metapage, which only VACUUM updates). SQLite gets no `ANALYZE`,
//! as the app runs none.
//!
//! How CAP's columns map: every column by name (`objectKey` → `object_key`, …); times as the
//! store writes them (SQLite: RFC 3339 with `+00:00` and as many fraction digits as needed,
//! which is what sqlx writes for a `DateTime<Utc>`; PostgreSQL: `timestamptz`); `status`
//! `available` and `pending` as they are, `processing` → `uploading`, and `archived`,
//! `quarantined`, `deleted` → `failed` with the CAP status as `statusReason` (our `deleted`
//! rows are on their way out and never listed, CAP's are ordinary rows: mapping them to a
//! listed status keeps every result identical to CAP's); `attributes` `{}`, `version` 1.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::proc::run;

/// The status mapping and the reason, as SQL over CAP's `status`.
const STATUS_SQL: &str = "CASE status WHEN 'available' THEN 'available' WHEN 'pending' THEN \
    'pending' WHEN 'processing' THEN 'uploading' ELSE 'failed' END, CASE WHEN status IN \
    ('available', 'pending', 'processing') THEN NULL ELSE status END";

const LOAD_SQLITE: &str = r#"
import sqlite3, sys
ours, cap, status_sql = sys.argv[1], sys.argv[2], sys.argv[3]
batch = 100000
con = sqlite3.connect(ours, isolation_level=None)
con.execute("PRAGMA synchronous=OFF")
con.execute("ATTACH DATABASE ? AS cap", (cap,))
bad = con.execute("SELECT count(*) FROM cap.docs_Documents WHERE length(createdAt) != 24 "
                  "OR length(modifiedAt) != 24 OR substr(createdAt, 24) != 'Z'").fetchone()[0]
if bad:
    sys.exit(f"{bad} CAP rows with times not in the form 2026-01-01T00:00:00.000Z")
# CAP writes milliseconds and 'Z'; sqlx writes a DateTime<Utc> with '+00:00' and 0, 3, 6 or 9
# fraction digits (chrono's SecondsFormat::AutoSi): no fraction for whole seconds.
def t(col):
    return (f"(CASE WHEN substr({col}, 20, 4) = '.000' THEN substr({col}, 1, 19) "
            f"ELSE substr({col}, 1, 23) END || '+00:00')")
insert = ("INSERT INTO documents (id, created_at, created_by, modified_at, modified_by, bucket, "
          "object_key, file_name, media_type, size, sha256, document_number, location, status, "
          "status_reason, attributes, version) "
          f"SELECT ID, {t('createdAt')}, createdBy, {t('modifiedAt')}, modifiedBy, bucket, "
          "objectKey, fileName, mediaType, size, sha256, documentNumber, location, "
          f"{status_sql}, '{{}}', 1 FROM cap.docs_Documents WHERE rowid BETWEEN ? AND ? "
          "ORDER BY rowid")
lo, hi = con.execute("SELECT min(rowid), max(rowid) FROM cap.docs_Documents").fetchone()
if lo is not None:
    for start in range(lo, hi + 1, batch):
        con.execute("BEGIN")
        con.execute(insert, (start, start + batch - 1))
        con.execute("COMMIT")
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(con.execute("SELECT count(*) FROM documents").fetchone()[0])
"#;

const CSV_FOR_POSTGRES: &str = r#"
import csv, sqlite3, sys
cap, status_sql = sys.argv[1], sys.argv[2]
con = sqlite3.connect(cap)
out = csv.writer(sys.stdout, lineterminator="\n")
for row in con.execute("SELECT ID, createdAt, createdBy, modifiedAt, modifiedBy, bucket, "
                       "objectKey, fileName, mediaType, size, sha256, documentNumber, location, "
                       f"{status_sql} FROM docs_Documents ORDER BY rowid"):
    out.writerow(row)
"#;

/// The `ID` of document number `FI-2026-0001234` (the reference's single-entity request), else
/// of the first row (a small `BENCH_ROWS` may not reach that number).
pub fn doc_id(cap_db: &Path) -> (String, bool) {
    let out = run(
        "python3 (document id)",
        Command::new("python3").args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
             r = c.execute(\"SELECT ID FROM docs_Documents WHERE documentNumber = \
             'FI-2026-0001234'\").fetchone(); \
             print(('1 ' + r[0]) if r else ('0 ' + c.execute('SELECT ID FROM docs_Documents \
             ORDER BY rowid LIMIT 1').fetchone()[0]))",
            &cap_db.to_string_lossy(),
        ]),
    );
    let (found, id) = out.trim().split_once(' ').unwrap();
    (id.to_owned(), found == "1")
}

/// Migrates a new SQLite file at `path` and copies the rows in; returns the row count.
pub async fn sqlite(cap_db: &Path, path: &Path) -> u64 {
    let store = runs::Store::open(&runs::StoreConfig::Sqlite {
        path: path.to_owned(),
    })
    .await
    .unwrap();
    store.close().await;
    let t = Instant::now();
    let out = tokio::task::block_in_place(|| {
        run(
            "python3 (load SQLite)",
            Command::new("python3")
                .args(["-c", LOAD_SQLITE])
                .arg(path)
                .arg(cap_db)
                .arg(STATUS_SQL),
        )
    });
    let n: u64 = out.trim().parse().unwrap();
    let size = std::fs::metadata(path).unwrap().len();
    println!(
        "  ours, SQLite: {n} rows copied in {:.1} s, runs.db {:.1} MiB",
        t.elapsed().as_secs_f64(),
        size as f64 / 1048576.0
    );
    n
}

/// Migrates the database at `url` and copies the rows in; returns the row count.
pub async fn postgres(cap_db: &Path, url: &str) -> u64 {
    let store = runs::Store::open(&runs::StoreConfig::postgres_url(url).unwrap())
        .await
        .unwrap();
    store.close().await;
    let t = Instant::now();
    tokio::task::block_in_place(|| {
        let mut csv = Command::new("python3")
            .args(["-c", CSV_FOR_POSTGRES])
            .arg(cap_db)
            .arg(STATUS_SQL)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let copy = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c"])
            .arg(
                "\\copy documents (id, created_at, created_by, modified_at, modified_by, bucket, \
                 object_key, file_name, media_type, size, sha256, document_number, location, \
                 status, status_reason) FROM pstdin WITH (FORMAT csv)",
            )
            .stdin(csv.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(csv.wait().unwrap().success(), "the CSV export failed");
        assert!(
            copy.status.success(),
            "psql \\copy failed: {}",
            String::from_utf8_lossy(&copy.stderr)
        );
    });
    let copied = t.elapsed().as_secs_f64();
    let t = Instant::now();
    psql(url, "VACUUM ANALYZE documents");
    let n: u64 = psql(url, "SELECT count(*) FROM documents")
        .trim()
        .parse()
        .unwrap();
    let size = psql(
        url,
        "SELECT pg_size_pretty(pg_database_size(current_database()))",
    );
    println!(
        "  ours, PostgreSQL: {n} rows copied in {copied:.1} s, VACUUM ANALYZE {:.1} s, database {}",
        t.elapsed().as_secs_f64(),
        size.trim()
    );
    n
}

/// One statement through `psql`, its unaligned output.
pub fn psql(url: &str, sql: &str) -> String {
    tokio::task::block_in_place(|| {
        run(
            "psql",
            Command::new("psql").args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                sql,
            ]),
        )
    })
}
