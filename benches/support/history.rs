//! A long history for the console's benchmarks: `n` incidents over the past year (numbers 1..n,
//! 40 services, P0–P3, 98% resolved, 2% private), each with its lifecycle (acknowledged,
//! first status update, mitigated, resolved), four timeline events and, for a fifth of them, an
//! escalation or two; and one incident with a long timeline. Written with set-based SQL (100,000
//! incidents in seconds), then ANALYZEd. Used with `#[path = "support/history.rs"] mod history;`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Seeds `n` incidents declared between `now - 365 days` and `now`; returns nothing but the
/// rows. Incident `i` is declared at `now - 365d + i * (365d / n)`.
pub async fn seed_incidents(db: &PgPool, n: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query(
        r#"INSERT INTO incidents (id, title, service, severity, status, commander, declared_by, declared_at,
                                  acknowledged_at, acknowledged_by, mitigated_at, resolved_at, resolved_by,
                                  root_cause, resolution, channel_id, channel_name, private, last_status_post_at)
           SELECT gen_random_uuid(),
                  (ARRAY['Database','Checkout','Login','Payments','Search','Cache','Queue','DNS','Gateway','Storage'])[1 + i % 10]
                  || ' ' ||
                  (ARRAY['latency high','errors spiking','connections exhausted','down','timeouts','disk full',
                         'memory leak','5xx for EU users','slow queries','certificate expired','replication lag',
                         'deploy failed'])[1 + (i / 10) % 12] || ' (' || i || ')',
                  'svc-' || (i % 40),
                  'P' || (i % 4),
                  CASE WHEN i % 50 = 7 THEN 'investigating' ELSE 'resolved' END,
                  (ARRAY['U0ALICE','U0BOB','U0CAROL'])[1 + i % 3], 'U0ALICE',
                  d.declared,
                  d.declared + make_interval(secs => 60 + (i * 37) % 600),
                  'U0BOB',
                  CASE WHEN i % 50 = 7 THEN NULL ELSE d.declared + make_interval(secs => 900 + (i * 53) % 3600) END,
                  CASE WHEN i % 50 = 7 THEN NULL ELSE d.declared + make_interval(secs => 1800 + (i * 97) % 14400) END,
                  CASE WHEN i % 50 = 7 THEN NULL ELSE 'U0ALICE' END,
                  'Root cause ' || i, 'Resolution ' || i, 'C' || lpad(i::text, 8, '0'), 'inc-' || i || '-svc', i % 50 = 0,
                  d.declared + make_interval(secs => 300)
           FROM generate_series(1, $1) AS i,
                LATERAL (SELECT $2::timestamptz - interval '365 days' + (i * (interval '365 days' / $1)) AS declared) AS d
           ORDER BY i"#,
    )
    .bind(n)
    .bind(now)
    .execute(db)
    .await?;
    sqlx::query(
        r#"INSERT INTO timeline_events (incident_id, at, actor, kind, payload)
           SELECT id, at, actor, kind, payload FROM (
               SELECT id, declared_at AS at, declared_by AS actor, 'declared' AS kind, '{}'::jsonb AS payload, 1 AS o FROM incidents
               UNION ALL SELECT id, acknowledged_at, 'U0BOB', 'acknowledged', '{}'::jsonb, 2 FROM incidents
               UNION ALL SELECT id, last_status_post_at, 'warroom', 'status_update_posted', '{}'::jsonb, 3 FROM incidents
               UNION ALL SELECT id, resolved_at, 'U0ALICE', 'resolved', '{}'::jsonb, 4 FROM incidents WHERE resolved_at IS NOT NULL
           ) AS e ORDER BY at, o"#,
    )
    .execute(db)
    .await?;
    sqlx::query(
        r#"INSERT INTO escalations (incident_id, tier, fired_at, fired_by, reason)
           SELECT id, t, declared_at + make_interval(mins => 15 * t), 'warroom', 'not acknowledged'
           FROM incidents, generate_series(1, 2) AS t
           WHERE number % 5 = 0 AND (t = 1 OR number % 10 = 0)"#,
    )
    .execute(db)
    .await?;
    sqlx::query("ANALYZE incidents").execute(db).await?;
    sqlx::query("ANALYZE timeline_events").execute(db).await?;
    sqlx::query("ANALYZE escalations").execute(db).await?;
    Ok(())
}

/// Gives incident `number` `events` more timeline events (notes and status updates, a minute
/// apart from its declaration); returns its id.
pub async fn seed_long_timeline(db: &PgPool, number: i64, events: i64) -> anyhow::Result<uuid::Uuid> {
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM incidents WHERE number = $1").bind(number).fetch_one(db).await?;
    sqlx::query(
        r#"INSERT INTO timeline_events (incident_id, at, actor, kind, payload)
           SELECT $1, i.declared_at + make_interval(secs => k * 6),
                  CASE WHEN k % 3 = 0 THEN 'warroom' ELSE 'U0BOB' END,
                  CASE WHEN k % 3 = 0 THEN 'status_update_posted' ELSE 'note' END,
                  CASE WHEN k % 3 = 0 THEN '{}'::jsonb ELSE jsonb_build_object('text', 'Checked replica ' || k || ': lag ' || (k % 90) || ' s') END
           FROM incidents AS i, generate_series(1, $2) AS k WHERE i.id = $1 ORDER BY k"#,
    )
    .bind(id)
    .bind(events)
    .execute(db)
    .await?;
    sqlx::query("ANALYZE timeline_events").execute(db).await?;
    Ok(id)
}
