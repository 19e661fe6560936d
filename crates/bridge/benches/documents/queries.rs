//! Part 2: the six requests of the SAP CAP reference service on the same rows, CAP (Node.js,
//! SQLite) against `bridge serve` on SQLite and on PostgreSQL, all three running side by side
//! and loaded one at a time.
//!
//! In order: the CAP copy is prepared ([`cap`]) and its rows copied into our schema on both
//! databases ([`load`]); the three servers start; one request per query and server is
//! compared with CAP's answer (the same `ID`s in the same order, the same `@odata.count`);
//! each query's plan is printed for both of our databases (`runs::Store::explain_documents`,
//! the statement the app runs); `BENCH_SEQ` (default 200) sequential requests per query on one
//! keep-alive connection give our unloaded p50/p99 (CAP: `BENCH_CAP_SEQ`, default 5, as its
//! reference takes a few sequential requests); then per query and server the reference's load:
//! a warm-up, `BENCH_WRK_RUNS` runs of `wrk -t1 -c4 -d<BENCH_WRK_DURATION> --timeout 60s
//! --latency` and one draining request after each (requests wrk left in flight finish before
//! the next run). Our servers get the token of `alice` in an `Authorization` header; CAP's
//! authentication is `dummy`. Every server logs one line per request, as deployed (CAP's
//! default, our JSON request log at the default level).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cfenv::Vcap;
use devstack::DevStack;
use odata::model::EntityType;
use odata::query::QueryOptions;

use crate::proc::{Sampler, Server, alice_token, mib, spawn_bridge, status_kib};
use crate::support::median;

#[path = "queries/cap.rs"]
mod cap;
#[path = "queries/load.rs"]
mod load;
#[path = "queries/wrk.rs"]
mod wrk;

/// The knobs.
pub struct Config {
    rows: u64,
    cap_src: Option<PathBuf>,
    queries: Vec<char>,
    wrk_runs: usize,
    wrk_duration: String,
    wrk_warmup: String,
    seq: usize,
    cap_seq: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a valid value"))
    })
}

impl Config {
    /// `BENCH_ROWS` (1 000 000), `BENCH_CAP_DIR`, `BENCH_QUERIES` (`abcdef`),
    /// `BENCH_WRK_RUNS` (3), `BENCH_WRK_DURATION` (`10s`), `BENCH_WRK_WARMUP` (`5s`),
    /// `BENCH_SEQ` (200), `BENCH_CAP_SEQ` (5).
    pub fn from_env() -> Self {
        let queries: Vec<char> = env_or("BENCH_QUERIES", "abcdef".to_owned())
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ',')
            .collect();
        for q in &queries {
            assert!(
                QUERIES.iter().any(|x| x.name == *q),
                "BENCH_QUERIES: no query {q}"
            );
        }
        Self {
            rows: env_or("BENCH_ROWS", 1_000_000),
            cap_src: std::env::var_os("BENCH_CAP_DIR").map(PathBuf::from),
            queries,
            wrk_runs: env_or("BENCH_WRK_RUNS", 3),
            wrk_duration: env_or("BENCH_WRK_DURATION", "10s".to_owned()),
            wrk_warmup: env_or("BENCH_WRK_WARMUP", "5s".to_owned()),
            seq: env_or("BENCH_SEQ", 200),
            cap_seq: env_or("BENCH_CAP_SEQ", 5),
        }
    }
}

/// One of the reference's requests.
struct Query {
    name: char,
    /// The request as the reference sends it (`{ID}`: the single entity's key).
    path: &'static str,
    label: &'static str,
    /// CAP answers it from an index (the ≥ 5× target applies).
    indexed_at_cap: bool,
}

/// The reference's six requests, byte for byte.
const QUERIES: [Query; 6] = [
    Query {
        name: 'a',
        path: "/catalog/Documents?$top=50&$orderby=createdAt%20desc",
        label: "$top=50&$orderby=createdAt desc",
        indexed_at_cap: true,
    },
    Query {
        name: 'b',
        path: "/catalog/Documents?$filter=location%20eq%20%27LOC-17%27%20and%20status%20eq%20%27available%27&$orderby=createdAt%20desc&$top=50",
        label: "$filter=location eq 'LOC-17' and status eq 'available'&$orderby=createdAt desc&$top=50",
        indexed_at_cap: true,
    },
    Query {
        name: 'c',
        path: "/catalog/Documents?$filter=startswith(documentNumber,%27FI-2026-00012%27)&$top=50",
        label: "$filter=startswith(documentNumber,'FI-2026-00012')&$top=50",
        indexed_at_cap: false,
    },
    Query {
        name: 'd',
        path: "/catalog/Documents?$count=true&$top=50&$filter=status%20eq%20%27available%27",
        label: "$count=true&$top=50&$filter=status eq 'available'",
        indexed_at_cap: false,
    },
    Query {
        name: 'e',
        path: "/catalog/Documents?$search=FI-2026-0001234&$top=20",
        label: "$search=FI-2026-0001234&$top=20",
        indexed_at_cap: false,
    },
    Query {
        name: 'f',
        path: "/catalog/Documents({ID})",
        label: "Documents(<ID of FI-2026-0001234>)",
        indexed_at_cap: true,
    },
];

/// A server under test and how to call it.
struct Target {
    name: &'static str,
    server: Server,
    /// `Authorization` for our servers.
    token: Option<String>,
    /// The highest VmRSS seen during its load, KiB.
    peak_kib: u64,
}

impl Target {
    fn header(&self) -> Option<String> {
        self.token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}"))
    }

    async fn get(&self, http: &reqwest::Client, path: &str) -> (u16, bytes::Bytes) {
        let mut req = http.get(self.server.url(path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap())
    }
}

/// Per query and target.
#[derive(Default, Clone)]
struct Figures {
    runs: Vec<wrk::WrkRun>,
    seq_p50: f64,
    seq_p99: f64,
}

impl Figures {
    fn rps(&self) -> f64 {
        median(self.runs.iter().map(|r| r.rps).collect())
    }
    fn wrk_p50(&self) -> f64 {
        median(self.runs.iter().map(|r| r.p50_ms).collect())
    }
}

/// The entity type the store answers queries on (its properties, `ID` the key).
fn entity_type() -> EntityType {
    let mut ty = EntityType::new("Documents");
    for p in runs::documents::properties() {
        ty = if p.name == "ID" {
            ty.key(p)
        } else {
            ty.property(p)
        };
    }
    ty
}

/// `(IDs in order, @odata.count)` of a collection answer, or `([ID], None)` of an entity.
fn ids(body: &[u8]) -> (Vec<String>, Option<u64>) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    match v.get("value").and_then(|x| x.as_array()) {
        Some(rows) => (
            rows.iter()
                .map(|r| r["ID"].as_str().unwrap_or("?").to_owned())
                .collect(),
            v.get("@odata.count").and_then(|c| c.as_u64()),
        ),
        None => (vec![v["ID"].as_str().unwrap_or("?").to_owned()], None),
    }
}

pub async fn run(dev: &DevStack, config: &Config) {
    println!(
        "== queries: the SAP CAP reference's six requests on the same rows, CAP vs. bridge serve on SQLite and PostgreSQL"
    );
    let Some(cap_src) = &config.cap_src else {
        println!(
            "  skipped: set BENCH_CAP_DIR to a checkout of the CAP reference service (its \
             scripts/load.py makes the rows, its service is the baseline)"
        );
        return;
    };
    println!(
        "  load average before the set-up: {}",
        crate::proc::loadavg()
    );
    wrk::ensure_installed();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("documents-bench");
    let cap = tokio::task::block_in_place(|| cap::prepare(cap_src, &work.join("cap"), config.rows));
    let (doc_id, found) = load::doc_id(&cap.db);
    if !found {
        println!(
            "  (no FI-2026-0001234 among {} rows: f reads the first row instead)",
            config.rows
        );
    }

    let tmp = tempfile::tempdir().unwrap();
    let sqlite_dir = tmp.path().join("sqlite");
    let sqlite_db = sqlite_dir.join("runs.db");
    let n_sqlite = load::sqlite(&cap.db, &sqlite_db).await;
    let pg = testkit::postgres::Server::start().unwrap_or_else(|e| panic!("{e}"));
    let pg_url = pg.create_database();
    let n_pg = load::postgres(&cap.db, &pg_url).await;
    assert_eq!(n_sqlite, n_pg, "both databases hold the same rows");
    let pg_version = load::psql(&pg_url, "SHOW server_version");

    // The app on PostgreSQL: the dev stack's bindings plus a `postgresql-db` one.
    let dbname = pg_url.rsplit('/').next().unwrap().to_owned();
    let mut vcap_json = dev.vcap_services().clone();
    vcap_json["postgresql-db"] = serde_json::json!([{
        "name": "bench-db", "label": "postgresql-db", "plan": "standard",
        "tags": ["relational", "database"],
        "credentials": {
            "hostname": "127.0.0.1", "port": pg.port().to_string(), "dbname": dbname,
            "username": "postgres", "password": "unused-with-trust",
            "uri": format!("postgres://postgres:unused-with-trust@127.0.0.1:{}/{dbname}", pg.port()),
        }
    }]);
    let vcap_pg = tmp.path().join("vcap-with-db.json");
    std::fs::write(&vcap_pg, vcap_json.to_string()).unwrap();

    let vcap = Vcap::from_json(&dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
    let token = alice_token(dev, &vcap).await;
    let mut cap_server = cap::spawn(&cap, &tmp.path().join("cap.log"));
    let mut ours_sqlite = spawn_bridge(
        "bridge serve (SQLite)",
        &dev.vcap_path(),
        &dev.ca_path(),
        &sqlite_dir,
        &tmp.path().join("sqlite.log"),
    );
    let mut ours_pg = spawn_bridge(
        "bridge serve (PostgreSQL)",
        &vcap_pg,
        &dev.ca_path(),
        &tmp.path().join("pg-data"),
        &tmp.path().join("pg.log"),
    );
    let ready = Duration::from_secs(120);
    cap_server
        .wait_ready("/catalog/Documents?$top=1", None, ready)
        .await;
    for s in [&mut ours_sqlite, &mut ours_pg] {
        s.wait_ready("/catalog/Documents?$top=1", Some(&token), ready)
            .await;
    }
    let mut targets = [
        Target {
            name: "CAP",
            server: cap_server,
            token: None,
            peak_kib: 0,
        },
        Target {
            name: "SQLite",
            server: ours_sqlite,
            token: Some(token.clone()),
            peak_kib: 0,
        },
        Target {
            name: "PostgreSQL",
            server: ours_pg,
            token: Some(token.clone()),
            peak_kib: 0,
        },
    ];
    println!(
        "  load average before the measurements: {}",
        crate::proc::loadavg()
    );
    let idle: Vec<u64> = targets
        .iter()
        .map(|t| status_kib(t.server.pid(), "VmRSS"))
        .collect();
    println!(
        "  {} rows; CAP: {}; PostgreSQL {} (throw-away server: fsync off); {}",
        n_sqlite,
        cap::versions(&cap),
        pg_version.trim(),
        wrk::version()
    );

    let queries: Vec<&Query> = QUERIES
        .iter()
        .filter(|q| config.queries.contains(&q.name))
        .collect();
    let path = |q: &Query| q.path.replace("{ID}", &doc_id);
    // A new connection per request: Node closes idle keep-alive connections after 5 s, and a
    // request sent on one it is closing meets a reset.
    let http = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    // Correctness: our answers against CAP's.
    println!();
    println!("  answers (one request each; ours compared with CAP's):");
    for q in &queries {
        let mut answers = Vec::new();
        for t in &targets {
            let (status, body) = t.get(&http, &path(q)).await;
            assert_eq!(
                status,
                200,
                "{} {}: {}",
                t.name,
                q.name,
                String::from_utf8_lossy(&body)
            );
            answers.push((ids(&body), body.len()));
        }
        let ((cap_ids, cap_count), cap_len) = &answers[0];
        let same = answers[1..]
            .iter()
            .all(|((i, c), _)| i == cap_ids && c == cap_count);
        println!(
            "    {}: {} rows{}, {} / {} / {} bytes (CAP / SQLite / PostgreSQL); same IDs in the same order{} as CAP: {}",
            q.name,
            cap_ids.len(),
            cap_count
                .map(|c| format!(", count {c}"))
                .unwrap_or_default(),
            cap_len,
            answers[1].1,
            answers[2].1,
            if cap_count.is_some() {
                " and the same count"
            } else {
                ""
            },
            if same { "yes" } else { "NO" }
        );
        if !same {
            for (t, ((i, c), _)) in targets.iter().zip(&answers) {
                println!(
                    "      {}: count {c:?}, first IDs {:?}",
                    t.name,
                    &i[..i.len().min(3)]
                );
            }
        }
    }

    // Plans of the statements our store runs for each query.
    println!();
    println!(
        "  plans (the statement our store runs; SQLite EXPLAIN QUERY PLAN, PostgreSQL EXPLAIN):"
    );
    let ty = entity_type();
    let stores = [
        (
            "SQLite",
            runs::Store::open(&runs::StoreConfig::Sqlite {
                path: sqlite_db.clone(),
            })
            .await
            .unwrap(),
        ),
        (
            "PostgreSQL",
            runs::Store::open(&runs::StoreConfig::postgres_url(&pg_url).unwrap())
                .await
                .unwrap(),
        ),
    ];
    for q in &queries {
        for (name, store) in &stores {
            let mut plans = Vec::new();
            if q.name == 'f' {
                plans.push(
                    store
                        .explain_get_document(doc_id.parse().unwrap())
                        .await
                        .unwrap(),
                );
            } else {
                let raw = q.path.split_once('?').unwrap().1;
                let options = QueryOptions::parse(Some(raw), &ty).unwrap();
                plans.push(
                    store
                        .explain_documents(&ty, &options, None, false)
                        .await
                        .unwrap(),
                );
                if options.count {
                    plans.push(
                        store
                            .explain_documents(&ty, &options, None, true)
                            .await
                            .unwrap(),
                    );
                }
            }
            for (i, plan) in plans.iter().enumerate() {
                println!(
                    "    {} {name}{}:",
                    q.name,
                    if i == 1 { " ($count)" } else { "" }
                );
                for line in plan.lines() {
                    println!("        {line}");
                }
            }
        }
    }
    for (_, store) in &stores {
        store.close().await;
    }

    // Unloaded latency: sequential requests on one connection.
    let mut figures = vec![vec![Figures::default(); targets.len()]; queries.len()];
    for (qi, q) in queries.iter().enumerate() {
        for (ti, t) in targets.iter().enumerate() {
            let n = if ti == 0 { config.cap_seq } else { config.seq };
            // One keep-alive connection, reused at once (well inside Node's 5 s).
            let client = reqwest::Client::builder()
                .http1_only()
                .pool_max_idle_per_host(1)
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .unwrap();
            t.get(&client, &path(q)).await;
            let mut lat = Vec::with_capacity(n);
            for _ in 0..n {
                let started = Instant::now();
                let (status, _) = t.get(&client, &path(q)).await;
                lat.push(started.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(status, 200);
            }
            lat.sort_by(f64::total_cmp);
            let at = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
            figures[qi][ti].seq_p50 = at(0.5);
            figures[qi][ti].seq_p99 = at(0.99);
        }
    }

    // The reference's load, per query and server.
    let shape = wrk::Shape {
        threads: 1,
        connections: 4,
    };
    println!();
    println!(
        "  wrk -t{} -c{} -d{} --timeout 60s --latency, after a {} warm-up, {} runs per query and server:",
        shape.threads, shape.connections, config.wrk_duration, config.wrk_warmup, config.wrk_runs
    );
    let drain = path(QUERIES.iter().find(|q| q.name == 'f').unwrap());
    for (qi, q) in queries.iter().enumerate() {
        println!("    {}) GET {}", q.name, q.label);
        for (ti, t) in targets.iter_mut().enumerate() {
            let url = t.server.url(&path(q));
            let header = t.header();
            let sampler = Sampler::start(t.server.pid());
            wrk::run_wrk(&shape, &config.wrk_warmup, false, header.as_deref(), &url);
            t.get(&http, &drain).await;
            for _ in 0..config.wrk_runs {
                let r = wrk::run_wrk(&shape, &config.wrk_duration, true, header.as_deref(), &url);
                t.get(&http, &drain).await;
                figures[qi][ti].runs.push(r);
            }
            t.peak_kib = t.peak_kib.max(sampler.finish());
            let runs: Vec<String> = figures[qi][ti]
                .runs
                .iter()
                .map(|r| {
                    let mut s = format!(
                        "{:.1} req/s p50 {:.2} p99 {:.2} ms ({} req)",
                        r.rps, r.p50_ms, r.p99_ms, r.requests
                    );
                    if r.non_2xx > 0 || r.socket_errors > 0 {
                        s += &format!(
                            " [{} non-2xx, {} socket errors]",
                            r.non_2xx, r.socket_errors
                        );
                    }
                    s
                })
                .collect();
            println!("      {:<10} {}", t.name, runs.join("; "));
        }
    }

    // The table.
    println!();
    println!(
        "  {:<2} {:>10} {:>12} {:>12} {:>8} {:>8} {:>22} {:>18} {:>18} {:>12}",
        "",
        "CAP req/s",
        "SQLite req/s",
        "PG req/s",
        "SQL/CAP",
        "PG/CAP",
        "wrk p50 ms CAP/SQL/PG",
        "seq p50/p99 SQLite",
        "seq p50/p99 PG",
        "CAP seq p50"
    );
    let mut indexed_ratios = Vec::new();
    let mut worst_p50: f64 = 0.0;
    for (qi, q) in queries.iter().enumerate() {
        let f = &figures[qi];
        let (c, s, p) = (f[0].rps(), f[1].rps(), f[2].rps());
        if q.indexed_at_cap {
            indexed_ratios.push((q.name, s / c, p / c));
        }
        worst_p50 = worst_p50.max(f[1].seq_p50).max(f[2].seq_p50);
        let times = |x: f64| {
            if c > 0.0 {
                format!("{:.1}×", x / c)
            } else {
                "—".to_owned()
            }
        };
        println!(
            "  {:<2} {c:>10.1} {s:>12.0} {p:>12.0} {:>8} {:>8} {:>22} {:>18} {:>18} {:>9.1} ms",
            q.name,
            times(s),
            times(p),
            format!(
                "{:.1} / {:.2} / {:.2}",
                f[0].wrk_p50(),
                f[1].wrk_p50(),
                f[2].wrk_p50()
            ),
            format!("{:.2} / {:.2} ms", f[1].seq_p50, f[1].seq_p99),
            format!("{:.2} / {:.2} ms", f[2].seq_p50, f[2].seq_p99),
            f[0].seq_p50,
        );
    }
    println!(
        "  (req/s and wrk p50: medians of the runs; seq: {} sequential requests on one connection, CAP {})",
        config.seq, config.cap_seq
    );
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    println!();
    for (name, s, p) in &indexed_ratios {
        println!(
            "  {name} (indexed at CAP): ours/CAP SQLite {s:.1}×, PostgreSQL {p:.1}×   target ≥ 5×  {} / {}",
            verdict(*s >= 5.0),
            verdict(*p >= 5.0)
        );
    }
    println!(
        "  worst unloaded p50 over every query on both databases: {worst_p50:.2} ms   target ≤ 5 ms  {}",
        verdict(worst_p50 <= 5.0)
    );
    for (qi, q) in queries.iter().enumerate() {
        for (ti, name) in [(1, "SQLite"), (2, "PostgreSQL")] {
            if figures[qi][ti].seq_p50 > 5.0 {
                println!(
                    "    over 5 ms: {} on {name}, p50 {:.2} ms",
                    q.name, figures[qi][ti].seq_p50
                );
            }
        }
    }
    println!();
    for (t, idle) in targets.iter().zip(&idle) {
        println!(
            "  {:<10} RSS idle {:>6.1} MiB, highest sampled under load {:>6.1} MiB, VmHWM {:>6.1} MiB",
            t.name,
            mib(*idle),
            mib(t.peak_kib),
            mib(status_kib(t.server.pid(), "VmHWM"))
        );
    }
    println!();
    drop(targets);
    drop(pg);
}
