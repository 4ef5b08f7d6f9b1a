//! The catch-up card: the time to read it from Postgres (`catchup::load`, one statement) and
//! render it (`catchup::render`: the template, Block Kit), p50 and p99, for an open incident whose
//! timeline has 5,000 events (a tenth of them updates, 1 in 100 follow-ups, diagnostics with 1 KiB
//! of output), with pending approvals, running diagnostics and the largest seed runbook's
//! checklist (seed 002, 51 steps) — among other incidents as long, so the tables are not the
//! incident's alone. The same for a 50-event timeline shows whether the card grows with it.
//!
//! Run: `cargo bench --bench catchup` (env: DATABASE_URL server, BENCH_EVENTS="50,5000",
//! BENCH_CARDS (default 2000), BENCH_OTHERS (other incidents, default 20)).

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use support::{env_or, Database, Latencies};
use uuid::Uuid;

/// The largest seed runbook's service (seed 002).
const SERVICE: &str = "inference-gateway";

/// An open incident with `events` timeline events and everything the card lists; returns its id.
async fn seed(
    db: &PgPool,
    events: i64,
    checklist: &warroom::checklist::Checklist,
    now: DateTime<Utc>,
) -> anyhow::Result<Uuid> {
    let id = Uuid::new_v4();
    let declared = now - Duration::hours(2);
    sqlx::query(
        r#"INSERT INTO incidents (id, title, service, severity, status, status_text, commander, declared_by, impact,
                                  declared_at, last_update_at, channel_id, channel_name)
           VALUES ($1, 'Inference API returns 100% errors', $2, 'P0', 'identified', 'GPU node pool drained',
                   'U0ALICE', 'U0ALICE', 'All inference requests', $3, $4, 'C' || substr(md5($1::text), 1, 10), 'inc-bench')"#,
    )
    .bind(id)
    .bind(SERVICE)
    .bind(declared)
    .bind(now - Duration::minutes(5))
    .execute(db)
    .await?;
    sqlx::query(
        r#"INSERT INTO timeline_events (incident_id, at, actor, kind, payload)
           SELECT $1, $3::timestamptz + make_interval(secs => i * 1.0), 'U0BOB',
                  CASE WHEN i % 100 = 3 THEN 'followup_added' WHEN i % 10 = 1 THEN 'updated'
                       WHEN i % 10 = 0 THEN 'diagnostic_finished' ELSE 'note' END,
                  CASE WHEN i % 100 = 3 THEN jsonb_build_object('text', 'Follow-up ' || i, 'owner', 'U0BOB', 'horizon', 'short')
                       WHEN i % 10 = 1 THEN jsonb_build_object('status', 'identified', 'root_cause', 'Cause ' || i,
                                                               'action', 'Draining node ' || i, 'eta', '10 min')
                       WHEN i % 10 = 0 THEN jsonb_build_object('action', 'kubernetes.logs', 'exit_code', 0,
                                                               'stdout', repeat('log line ' || i || E'\n', 64))
                       ELSE jsonb_build_object('text', 'Observation number ' || i) END
           FROM generate_series(1, $2) AS i"#,
    )
    .bind(id)
    .bind(events)
    .bind(declared)
    .execute(db)
    .await?;
    // Three changes waiting for approval (one with a vote), one running; two reads waiting for a
    // runner, two queued here.
    for (n, state) in ["pending", "pending", "pending", "running"].into_iter().enumerate() {
        let request = Uuid::new_v4();
        sqlx::query(
            r#"INSERT INTO approval_requests (id, incident_id, action, params, argv, action_hash, requested_by, reason,
                                              required, state, requested_at, expires_at)
               VALUES ($1, $2, 'kubernetes.rollout_restart', '{}', '[]', 'hash', 'U0BOB', 'pods stuck', 2, $3, $4, $5)"#,
        )
        .bind(request)
        .bind(id)
        .bind(state)
        .bind(now - Duration::minutes(10 - n as i64))
        .bind(now + Duration::minutes(5))
        .execute(db)
        .await?;
        if n == 0 {
            sqlx::query(
                "INSERT INTO approval_votes (request_id, user_id, decision, at) VALUES ($1, 'U0CAROL', 'approve', $2)",
            )
            .bind(request)
            .bind(now)
            .execute(db)
            .await?;
        }
    }
    for n in 0..2 {
        sqlx::query(
            "INSERT INTO runner_tasks (id, runner, incident_id, action, params, requested_by, state, created_at)
             VALUES ($1, 'edge-1', $2, 'kubernetes.pods', '{}', 'U0BOB', 'queued', $3)",
        )
        .bind(Uuid::new_v4())
        .bind(id)
        .bind(now - Duration::minutes(n))
        .execute(db)
        .await?;
        let payload = serde_json::json!({ "action": "http.check", "params": {}, "by": "U0BOB" });
        warroom::jobs::queue::enqueue(
            db,
            Some(id),
            warroom::jobs::kind::RUN_DIAGNOSTIC,
            &format!("b{n}"),
            payload,
            now + Duration::hours(1),
        )
        .await?;
    }
    warroom::checklist::store::create(db, id, checklist, declared).await?;
    sqlx::query("INSERT INTO incident_roles (incident_id, role, user_id, assigned_at, assigned_by) VALUES ($1, 'scribe', 'U0BOB', $2, 'U0ALICE'), ($1, 'comms', 'U0CAROL', $2, 'U0ALICE')")
        .bind(id)
        .bind(now)
        .execute(db)
        .await?;
    sqlx::query("INSERT INTO checklist_steps (incident_id, step, done_by, done_at, done_via) SELECT $1, s, 'U0BOB', $2, 'done' FROM generate_series(1, 10) AS s")
        .bind(id)
        .bind(now)
        .execute(db)
        .await?;
    Ok(id)
}

/// `cards` cards of incident `id`, one after another, each read and rendered.
async fn measure(db: &PgPool, id: Uuid, cards: usize, now: DateTime<Utc>) -> anyhow::Result<(Latencies, usize, usize)> {
    let templates = warroom::templates::Templates::load(None)?;
    let roles = warroom::config::RolesConfig::default();
    let matching = warroom::seen_before::Matching::detect(db).await?;
    let reading = warroom::catchup::card::Reading { roles: &roles, bot_user: None, matching };
    let mut conn = db.acquire().await?;
    let mut times = Vec::with_capacity(cards);
    let mut shape = (0, 0);
    for n in 0..cards + cards / 10 {
        let t0 = Instant::now();
        let card =
            warroom::catchup::load(&mut conn, reading, id, now).await?.ok_or_else(|| anyhow::anyhow!("no incident"))?;
        let (_, blocks) = warroom::catchup::render(&templates, &card, None)?;
        let took = t0.elapsed();
        // The first tenth warms the connection pool and Postgres' caches.
        if n >= cards / 10 {
            times.push(took);
        }
        shape = (blocks.len(), warroom::slack::kit::json(&blocks).to_string().len());
    }
    Ok((Latencies::new(times), shape.0, shape.1))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<i64> = std::env::var("BENCH_EVENTS")
        .unwrap_or_else(|_| "50,5000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let cards: usize = env_or("BENCH_CARDS", 2000);
    let others: usize = env_or("BENCH_OTHERS", 20);
    let checklist = support::example_checklist(SERVICE)?;
    let db = Database::fresh().await?;
    let now = Utc::now();
    let largest = sizes.iter().copied().max().unwrap_or(5000);
    println!("seeding {others} other incidents of {largest} events each ...");
    for _ in 0..others {
        seed(&db.pool, largest, &checklist, now).await?;
    }
    let mut results = Vec::new();
    for &events in &sizes {
        let id = seed(&db.pool, events, &checklist, now).await?;
        sqlx::query("ANALYZE").execute(&db.pool).await?;
        println!("{cards} cards of an incident with {events} timeline events ...");
        results.push((events, measure(&db.pool, id, cards, now).await?));
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM timeline_events").fetch_one(&db.pool).await?;
    db.drop().await?;
    println!("\n== catch-up card benchmark (load + render; {total} timeline events in the table) ==");
    for (events, (latencies, blocks, bytes)) in results {
        println!("{events:>6} events: {}  ({blocks} blocks, {bytes} bytes of Block Kit)", latencies.summary());
    }
    Ok(())
}
