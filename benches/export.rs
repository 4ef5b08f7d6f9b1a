//! Export figures: an incident with 1,000, 10,000 and 100,000 timeline events (a mix of notes,
//! updates, status page pushes and diagnostics with 1 KiB of output), exported by the real
//! `warroom export INC-n --format md|json|csv` process to /dev/null: wall time, and the process's
//! peak resident memory (`ru_maxrss` from `wait4`), which should not grow with the event count.
//!
//! Run: `cargo bench --bench export` (env: DATABASE_URL server, BENCH_SIZES="1000,10000,100000").

use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Instant;

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
    let child = Command::new(env!("CARGO_BIN_EXE_warroom"))
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
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin.connect().await?).await?;
    let db =
        sqlx::postgres::PgPoolOptions::new().max_connections(2).connect_with(admin.clone().database(&name)).await?;
    warroom::db::migrate(&db).await?;
    let base = server.split('?').next().unwrap_or(&server);
    let database_url = format!("{}/{name}", base.rsplit_once('/').map_or(base, |(b, _)| b));

    println!("\n== warroom export benchmark (the `warroom export` process, output to a file) ==");
    println!("{:>8}  {:>6}  {:>9}  {:>12}  {:>10}", "events", "format", "time", "peak RSS", "size");
    for n in sizes {
        let number = seed(&db, n).await?;
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
    db.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin.connect().await?).await?;
    Ok(())
}
