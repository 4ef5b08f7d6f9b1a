//! The insights' SQL: response times and counts computed in Postgres over every replica's
//! incidents (not this process's metrics), for one viewer, one range of ISO weeks and the
//! optional service and severity filters.
//!
//! What is measured, from the incident's `declared_at` (not `detected_at`: only incidents from
//! alerts have one, and mixing the two starts would make those look slower than hand-declared
//! ones for the same response): to acknowledge (`acknowledged_at`), to mitigate (`mitigated_at`,
//! set when the status first reached monitoring, or at resolution), to resolve (`resolved_at`),
//! and to the first update — the first `updated` event (a person's `/incident update` or the
//! update modal) or `status_update_posted` (warroom's scheduled post, "nothing new" ones too),
//! whichever came first: when the channel first heard how things stood. Incidents are bucketed
//! by the week (Monday 00:00 UTC) they were declared in.
//!
//! Private incidents count only for their members, with `crate::private::visible_to`'s rule
//! written in SQL: the declarer, the commander, or a `channel_members` row of its channel.
//!
//! The two statements run in one read-only, repeatable-read transaction, so that the tiers and
//! the times agree with each other.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::incident::Severity;

/// The incidents a viewer may see in the range and the filters, with their week. Parameters:
/// $1 start, $2 end (inclusive), $3 service or NULL, $4 severity or NULL, $5 the viewer.
macro_rules! seen {
    () => {
        "WITH seen AS (
           SELECT i.id, i.service, i.severity, i.declared_at, i.acknowledged_at, i.mitigated_at, i.resolved_at,
                  date_trunc('week', i.declared_at, 'UTC') AS week
           FROM incidents i
           WHERE i.declared_at >= $1 AND i.declared_at <= $2
             AND ($3::text IS NULL OR i.service = $3)
             AND ($4::text IS NULL OR i.severity = $4)
             AND (NOT i.private OR i.declared_by = $5 OR i.commander = $5
                  OR EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = i.channel_id AND m.user_id = $5)))"
    };
}

/// Per grouping set — (week, severity), (severity), (service) and all — the incidents and,
/// for each measure, how many were timed and the median and p90 in seconds. Each incident is
/// timed once, in one wide row (not one row per measure: a quarter of the sorting), and each
/// measure's two percentiles come from one sort (`percentile_cont` of an array).
pub const TIMES: &str = concat!(
    seen!(),
    ",
    timed AS (
      SELECT s.week, s.severity, s.service,
             extract(epoch FROM s.acknowledged_at - s.declared_at)::float8 AS acknowledge,
             extract(epoch FROM s.mitigated_at - s.declared_at)::float8 AS mitigate,
             extract(epoch FROM s.resolved_at - s.declared_at)::float8 AS resolve,
             extract(epoch FROM (
               SELECT min(e.at) FROM timeline_events e
               WHERE e.incident_id = s.id AND e.kind IN ('updated', 'status_update_posted') AND e.at >= s.declared_at
             ) - s.declared_at)::float8 AS first_update
      FROM seen s
    )
    SELECT week, severity, service, count(*) AS n,
           count(acknowledge) AS acknowledge_n,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY acknowledge) AS acknowledge,
           count(mitigate) AS mitigate_n,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY mitigate) AS mitigate,
           count(resolve) AS resolve_n,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolve) AS resolve,
           count(first_update) AS first_update_n,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY first_update) AS first_update
    FROM timed
    GROUP BY GROUPING SETS ((week, severity), (severity), (service), ())"
);

/// How many incidents reached each escalation tier (reaching tier 3 means tiers 1 and 2 too).
pub const TIERS: &str = concat!(
    seen!(),
    ",
    reached AS (
      SELECT e.incident_id, max(e.tier) AS top FROM escalations e JOIN seen s ON s.id = e.incident_id
      GROUP BY e.incident_id
    )
    SELECT t.tier, count(*) AS n FROM reached r CROSS JOIN LATERAL generate_series(1, r.top) AS t(tier)
    GROUP BY t.tier ORDER BY t.tier"
);

/// What is timed (the `measure` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Acknowledge,
    Mitigate,
    Resolve,
    FirstUpdate,
}

impl Measure {
    pub const ALL: [Measure; 4] = [Measure::Acknowledge, Measure::FirstUpdate, Measure::Mitigate, Measure::Resolve];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledge",
            Self::Mitigate => "mitigate",
            Self::Resolve => "resolve",
            Self::FirstUpdate => "first_update",
        }
    }
}

/// The weeks asked for, the filters and who asks.
#[derive(Debug, Clone)]
pub struct Query {
    /// Monday 00:00 UTC of the first week.
    pub start: DateTime<Utc>,
    /// The end of the range: now.
    pub end: DateTime<Utc>,
    pub service: Option<String>,
    pub severity: Option<Severity>,
    /// The viewer's Slack user id (private incidents count only for their members).
    pub viewer: String,
}

/// The median and p90 (seconds) of one measure over `n` incidents of one group.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Times {
    pub measure: String,
    /// Set for the (measure, week, severity) rows only.
    pub week: Option<DateTime<Utc>>,
    pub severity: Option<String>,
    pub service: Option<String>,
    pub n: i64,
    pub median: f64,
    pub p90: f64,
}

/// A row of [`TIMES`]: the grouping's keys (NULL where not grouped by), its incidents, and per
/// measure the incidents timed and [median, p90] (NULL when none was).
#[derive(Debug, Clone, sqlx::FromRow)]
struct Wide {
    week: Option<DateTime<Utc>>,
    severity: Option<String>,
    service: Option<String>,
    n: i64,
    acknowledge_n: i64,
    acknowledge: Option<Vec<f64>>,
    mitigate_n: i64,
    mitigate: Option<Vec<f64>>,
    resolve_n: i64,
    resolve: Option<Vec<f64>>,
    first_update_n: i64,
    first_update: Option<Vec<f64>>,
}

impl Wide {
    /// The row's measures, one [`Times`] each (those with something timed).
    fn times(&self) -> impl Iterator<Item = Times> + '_ {
        let measures = [
            (Measure::Acknowledge, self.acknowledge_n, &self.acknowledge),
            (Measure::Mitigate, self.mitigate_n, &self.mitigate),
            (Measure::Resolve, self.resolve_n, &self.resolve),
            (Measure::FirstUpdate, self.first_update_n, &self.first_update),
        ];
        measures.into_iter().filter_map(move |(measure, n, percentiles)| match percentiles.as_deref() {
            Some([median, p90]) if n > 0 => Some(Times {
                measure: measure.as_str().to_string(),
                week: self.week,
                severity: self.severity.clone(),
                service: self.service.clone(),
                n,
                median: *median,
                p90: *p90,
            }),
            _ => None,
        })
    }
}

/// Everything the page shows.
#[derive(Debug, Clone, Default)]
pub struct Insights {
    pub times: Vec<Times>,
    /// (severity, incidents), P0 first.
    pub by_severity: Vec<(String, i64)>,
    /// (service, incidents), the most incidents first.
    pub by_service: Vec<(String, i64)>,
    pub total: i64,
    /// (tier, incidents that reached it), tier 1 first.
    pub tiers: Vec<(i32, i64)>,
}

impl Insights {
    /// The rows of `measure` for one grouping: by week and severity, by severity, by service,
    /// or overall.
    pub fn times_of(&self, measure: Measure) -> impl Iterator<Item = &Times> {
        self.times.iter().filter(move |t| t.measure == measure.as_str())
    }
}

/// Runs the two statements for `query`.
pub async fn load(db: &PgPool, query: &Query) -> sqlx::Result<Insights> {
    let mut tx = db.begin().await?;
    // No JIT: the per-incident look-up of the first update makes the planner's estimate large
    // enough to compile the plan, which took longer (2 s for a year) than running it. And
    // room for the percentiles' sorts in memory.
    sqlx::raw_sql(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL jit = off; SET LOCAL work_mem = '32MB'",
    )
    .execute(&mut *tx)
    .await?;
    let severity = query.severity.map(|s| s.as_str());
    let wide: Vec<Wide> = sqlx::query_as(TIMES)
        .bind(query.start)
        .bind(query.end)
        .bind(query.service.as_deref())
        .bind(severity)
        .bind(query.viewer.as_str())
        .fetch_all(&mut *tx)
        .await?;
    let tiers: Vec<(i32, i64)> = sqlx::query_as(TIERS)
        .bind(query.start)
        .bind(query.end)
        .bind(query.service.as_deref())
        .bind(severity)
        .bind(query.viewer.as_str())
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;

    let mut insights = Insights { tiers, ..Insights::default() };
    for row in &wide {
        insights.times.extend(row.times());
        match (&row.week, &row.severity, &row.service) {
            (None, Some(severity), None) => insights.by_severity.push((severity.clone(), row.n)),
            (None, None, Some(service)) => insights.by_service.push((service.clone(), row.n)),
            (None, None, None) => insights.total = row.n,
            _ => {}
        }
    }
    insights.times.sort_by(|a, b| (&a.week, &a.severity, &a.service).cmp(&(&b.week, &b.severity, &b.service)));
    insights.by_severity.sort();
    insights.by_service.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(insights)
}
