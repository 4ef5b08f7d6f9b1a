//! Export figures: an incident with 1,000, 10,000 and 100,000 timeline events (a mix of notes,
//! updates, status page pushes and diagnostics with 1 KiB of output), exported by the real
//! `warroom export INC-n --format md|json|csv` process to /dev/null: wall time, and the process's
//! peak resident memory (`ru_maxrss` from `wait4`), which should not grow with the event count.
//!
//! Then the upload path: a real `warroom serve` (against a sandbox Slack in this process) shares
//! the Markdown report of the largest incident in its channel (`/incident export`'s job: written
//! to memory, then `files.getUploadURLExternal`, the upload, `files.completeUploadExternal`); its
//! peak resident memory before and after, against the report's size, shows how many times the
//! report is held.
//!
//! Run: `cargo bench --bench export` (env: DATABASE_URL server, BENCH_SIZES="1000,10000,100000",
//! BENCH_BIN=path/to/another/warroom to measure that build instead).

use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;

/// Seeds an incident with `n` events; returns its number.
async fn seed(db: &sqlx::PgPool, n: i64) -> anyhow::Result<i64> {
    let id = uuid::Uuid::new_v4();
    let number: i64 = sqlx::query_scalar(
        r#"INSERT INTO incidents (id, title, service, severity, status, commander, declared_by, impact, declared_at,
                                  acknowledged_at, mitigated_at, resolved_at, root_cause, resolution, channel_name)
           VALUES ($1, 'Bench outage', 'bench-api', 'P0', 'resolved', 'U0ALICE', 'U0ALICE', 'All requests failing',
                   '2026-11-23T15:00:00Z', '2026-11-23T15:01:00Z', '2026-11-23T16:00:00Z', '2026-11-23T17:00:00Z',
                   'A leak', 'A restart', 'inc-bench')
           RETURNING number"#,
    )
    .bind(id)
    .fetch_one(db)
    .await?;
    sqlx::query(
        r#"INSERT INTO timeline_events (incident_id, at, actor, kind, payload)
           SELECT $1, '2026-11-23T15:00:00Z'::timestamptz + make_interval(secs => i * 0.05), 'U0BOB',
                  CASE i % 10 WHEN 0 THEN 'diagnostic_finished' WHEN 1 THEN 'updated' WHEN 2 THEN 'statuspage_pushed'
                              ELSE 'note' END,
                  CASE i % 10
                      WHEN 0 THEN jsonb_build_object('action', 'docker.logs', 'exit_code', 0, 'stdout', repeat('log line ' || i || E'\n', 64), 'stderr', '')
                      WHEN 1 THEN jsonb_build_object('status', 'identified', 'action', 'Raising memory, step ' || i)
                      WHEN 2 THEN jsonb_build_object('action', 'update', 'status', 'identified', 'body', repeat('We are investigating. ', 20))
                      ELSE jsonb_build_object('text', 'Observation number ' || i || ', with "quotes", commas | pipes')
                  END
           FROM generate_series(1, $2) AS i"#,
    )
    .bind(id)
    .bind(n)
    .execute(db)
    .await?;
    Ok(number)
}

/// Runs the export process; returns (seconds, peak RSS in MiB, bytes written).
fn export(database_url: &str, number: i64, format: &str) -> anyhow::Result<(f64, f64, u64)> {
    let out = std::env::temp_dir().join(format!("warroom-export-bench-{}", std::process::id()));
    let started = Instant::now();
    let child = Command::new(binary())
        .args(["export", &format!("INC-{number}"), "--format", format])
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("WARROOM_CONFIG", "/dev/null")
        .stdout(Stdio::from(std::fs::File::create(&out)?))
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our child's; status and usage point at live locals.
    let waited = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(waited > 0 && status == 0, "the export failed (status {status})");
    let bytes = std::fs::metadata(&out)?.len();
    let _ = std::fs::remove_file(&out);
    Ok((seconds, usage.ru_maxrss as f64 / 1024.0, bytes))
}

/// The warroom binary measured: this build's, or `BENCH_BIN` (another build, to compare).
fn binary() -> String {
    std::env::var("BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_warroom").to_string())
}

/// Kilobytes from a `/proc/<pid>/status` line such as `VmHWM:   123456 kB`.
fn proc_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// `warroom serve` shares incident `number`'s Markdown report in a sandbox channel; returns
/// (peak RSS before, peak RSS after, report size), in MiB.
async fn upload(db: &sqlx::PgPool, database_url: &str, number: i64) -> anyhow::Result<(f64, f64, f64)> {
    use warroom::sandbox::{self, Workspace};
    let slack = Arc::new(Workspace::new(Arc::new(warroom::clock::SystemClock), warroom::secret::Secret::new("bench")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}", listener.local_addr()?);
    let sandbox_server = axum::serve(listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { sandbox_server.await });
    let channel = slack.create_bot_channel("inc-bench");
    sqlx::query("UPDATE incidents SET channel_id = $1 WHERE number = $2")
        .bind(&channel)
        .bind(number)
        .execute(db)
        .await?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    // The upload URLs it hands out point at itself.
    slack.connect(&format!("http://127.0.0.1:{port}"), &slack_url);
    let mut child = Command::new(binary())
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("WARROOM_LISTEN", format!("127.0.0.1:{port}"))
        .env("WARROOM_CONFIG", "/dev/null")
        .env("SLACK_BOT_TOKEN", sandbox::BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", "bench")
        .env("SLACK_API_URL", format!("{slack_url}/api"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let measured = measure_upload(db, port, pid, number).await;
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = child.wait();
    measured
}

/// Waits for `warroom serve` (pid) to be ready, queues the export, waits for it to be shared.
async fn measure_upload(db: &sqlx::PgPool, port: u16, pid: u32, number: i64) -> anyhow::Result<(f64, f64, f64)> {
    let http = warroom::tls::http_client();
    let started = Instant::now();
    while !http.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "warroom serve did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = proc_kb(pid, "VmHWM:");
    sqlx::query(
        r#"INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at)
           SELECT id, 'incident.export', 'bench', '{"format": "md", "by": "U0ALICE"}', now(), now()
           FROM incidents WHERE number = $1"#,
    )
    .bind(number)
    .execute(db)
    .await?;
    sqlx::query("SELECT pg_notify('warroom_jobs', '')").execute(db).await?;
    let exported = "SELECT (payload->>'bytes')::float8 FROM timeline_events WHERE kind = 'report_exported'";
    let bytes = loop {
        if let Some(bytes) = sqlx::query_scalar::<_, f64>(exported).fetch_optional(db).await? {
            break bytes;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(120), "the report was not shared in 2 minutes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let after = proc_kb(pid, "VmHWM:");
    Ok((before as f64 / 1024.0, after as f64 / 1024.0, bytes / 1_048_576.0))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<i64> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = PgConnectOptions::from_str(&server)?;
    let name = format!("warroom_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin.connect().await?).await?;
    let db =
        sqlx::postgres::PgPoolOptions::new().max_connections(2).connect_with(admin.clone().database(&name)).await?;
    warroom::db::migrate(&db).await?;
    let base = server.split('?').next().unwrap_or(&server);
    let database_url = format!("{}/{name}", base.rsplit_once('/').map_or(base, |(b, _)| b));

    println!("\n== warroom export benchmark (the `warroom export` process, output to a file) ==");
    println!("{:>8}  {:>6}  {:>9}  {:>12}  {:>10}", "events", "format", "time", "peak RSS", "size");
    let mut largest = None;
    for n in sizes {
        let number = seed(&db, n).await?;
        largest = Some((n, number));
        sqlx::query("ANALYZE timeline_events").execute(&db).await?;
        for format in ["md", "json", "csv"] {
            let (seconds, rss, bytes) = export(&database_url, number, format)?;
            println!(
                "{n:>8}  {format:>6}  {:>7.3} s  {rss:>8.1} MiB  {:>7.1} MiB",
                seconds,
                bytes as f64 / 1_048_576.0
            );
        }
    }
    if let Some((n, number)) = largest {
        println!("\n/incident export md of {n} events, shared by `warroom serve` (3-step upload):");
        match upload(&db, &database_url, number).await {
            Ok((before, after, size)) => println!(
                "  report {size:.1} MiB; peak RSS {before:.1} MiB before, {after:.1} MiB after: +{:.1} MiB = {:.2}x the report",
                after - before,
                (after - before) / size
            ),
            Err(e) => println!("  failed: {e:#}"),
        }
    }
    db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut admin.connect().await?)
        .await?;
    Ok(())
}
