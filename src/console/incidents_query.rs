//! The SQL of the console's incidents list: one page of incidents newest first, filtered, paged
//! by keyset (`number < cursor ORDER BY number DESC LIMIT 51`, never OFFSET, so a deep page
//! costs what the first does), and only what the viewer may see — the rule of
//! `crate::private::visible_to`, written in SQL so that pages stay full and nothing private
//! shows through their links. Migration 0029 holds the indexes the filters use.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::incident::{Severity, Status};

/// Incidents on a page.
pub const PAGE_SIZE: usize = 50;

/// Which incidents by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Not resolved (investigating, identified or monitoring).
    Open,
    Is(Status),
}

/// The list's filters; `None` is "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub status: Option<StatusFilter>,
    pub severity: Option<Severity>,
    pub service: Option<String>,
    /// Declared on or after this day (UTC).
    pub from: Option<NaiveDate>,
    /// Declared on or before this day (UTC).
    pub to: Option<NaiveDate>,
    /// A case-insensitive substring of the title, taken literally.
    pub q: Option<String>,
}

/// Where a page starts: below an incident number (older) or above one (newer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Before(i64),
    After(i64),
}

/// One listed incident.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub number: i64,
    pub title: String,
    pub service: String,
    pub severity: String,
    pub status: String,
    pub commander: String,
    pub channel_id: Option<String>,
    pub channel_name: Option<String>,
    pub declared_at: DateTime<Utc>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub private: bool,
}

/// A page, newest first, with the cursors of its neighbours (`None`: there is none).
#[derive(Debug, Clone)]
pub struct Page {
    pub rows: Vec<Row>,
    /// `before=` of the next older page.
    pub older: Option<i64>,
    /// `after=` of the next newer page.
    pub newer: Option<i64>,
}

/// The page of incidents `viewer` may see that match `filters`, starting at `cursor`.
pub async fn page(db: &PgPool, viewer: &str, filters: &Filters, cursor: Option<Cursor>) -> sqlx::Result<Page> {
    let (bound, newest_first) = match cursor {
        None => (None, true),
        Some(Cursor::Before(n)) => (Some(("<", n)), true),
        Some(Cursor::After(n)) => (Some((">", n)), false),
    };
    let mut sql = matching(viewer, filters);
    if let Some((op, n)) = bound {
        sql.push(format_args!(" AND i.number {op} ")).push_bind(n);
    }
    sql.push(if newest_first { " ORDER BY i.number DESC" } else { " ORDER BY i.number ASC" });
    // One more than a page: whether there is more in this direction, without a count.
    sql.push(" LIMIT ").push_bind(PAGE_SIZE as i64 + 1);
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(db).await?;
    let more = rows.len() > PAGE_SIZE;
    rows.truncate(PAGE_SIZE);
    if !newest_first {
        rows.reverse();
    }
    let (newest, oldest) = (rows.first().map(|r| r.number), rows.last().map(|r| r.number));
    Ok(match cursor {
        None => Page { older: oldest.filter(|_| more), newer: None, rows },
        Some(Cursor::Before(n)) => {
            // Newer than the newest shown (an empty page: than the cursor's own number).
            let pivot = newest.unwrap_or(n.saturating_sub(1));
            let newer = exists(db, viewer, filters, ">", pivot).await?.then_some(pivot);
            Page { older: oldest.filter(|_| more), newer, rows }
        }
        Some(Cursor::After(n)) => {
            let pivot = oldest.unwrap_or(n.saturating_add(1));
            let older = exists(db, viewer, filters, "<", pivot).await?.then_some(pivot);
            Page { older, newer: newest.filter(|_| more), rows }
        }
    })
}

/// Is there a matching incident `viewer` may see with a number `op` (`<` or `>`) `pivot`?
async fn exists(db: &PgPool, viewer: &str, filters: &Filters, op: &str, pivot: i64) -> sqlx::Result<bool> {
    let mut sql = matching(viewer, filters);
    sql.push(format_args!(" AND i.number {op} ")).push_bind(pivot);
    sql.push(" LIMIT 1");
    Ok(sql.build().fetch_optional(db).await?.is_some())
}

/// `SELECT … FROM incidents i WHERE <visible to viewer> AND <filters>`; the caller adds the
/// cursor, the order and the limit. Every value is a bound parameter; only fixed SQL is pushed.
fn matching(viewer: &str, filters: &Filters) -> QueryBuilder<Postgres> {
    let mut sql = QueryBuilder::new(
        "SELECT i.number, i.title, i.service, i.severity, i.status, i.commander, i.channel_id, i.channel_name, \
         i.declared_at, i.mitigated_at, i.resolved_at, i.private FROM incidents i WHERE ",
    );
    push_visible(&mut sql, viewer);
    match filters.status {
        None => {}
        Some(StatusFilter::Open) => {
            sql.push(" AND i.status <> 'resolved'");
        }
        Some(StatusFilter::Is(status)) => {
            sql.push(" AND i.status = ").push_bind(status.as_str());
            if status != Status::Resolved {
                // Said outright, so that the planner takes the open incidents' index.
                sql.push(" AND i.status <> 'resolved'");
            }
        }
    }
    if let Some(severity) = filters.severity {
        sql.push(" AND i.severity = ").push_bind(severity.as_str());
    }
    if let Some(service) = &filters.service {
        sql.push(" AND i.service = ").push_bind(service.clone());
    }
    if let Some(from) = filters.from {
        sql.push(" AND i.declared_at >= ").push_bind(start_of(from));
    }
    if let Some(to) = filters.to.and_then(|to| to.succ_opt()) {
        // `to` is inclusive: everything before the next day began.
        sql.push(" AND i.declared_at < ").push_bind(start_of(to));
    }
    if let Some(q) = &filters.q {
        sql.push(" AND i.title ILIKE ").push_bind(format!("%{}%", like_literal(q)));
    }
    sql
}

/// `private::visible_to` in SQL: public, or declared or commanded by the viewer, or the viewer
/// is in its channel.
fn push_visible(sql: &mut QueryBuilder<Postgres>, viewer: &str) {
    sql.push("(NOT i.private OR i.declared_by = ").push_bind(viewer.to_string());
    sql.push(" OR i.commander = ").push_bind(viewer.to_string());
    sql.push(" OR EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = i.channel_id AND m.user_id = ");
    sql.push_bind(viewer.to_string()).push("))");
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// `text` as a `LIKE` pattern matching exactly it: `%`, `_` and the escape `\` escaped.
pub fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The services of incidents `viewer` may see, in order: a loose index scan (one index probe
/// per service, not a pass over every incident).
pub async fn services(db: &PgPool, viewer: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"WITH RECURSIVE s (service) AS (
               (SELECT i.service FROM incidents i
                WHERE (NOT i.private OR i.declared_by = $1 OR i.commander = $1
                       OR EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = i.channel_id AND m.user_id = $1))
                ORDER BY i.service LIMIT 1)
               UNION ALL
               SELECT (SELECT i.service FROM incidents i
                       WHERE i.service > s.service
                         AND (NOT i.private OR i.declared_by = $1 OR i.commander = $1
                              OR EXISTS (SELECT 1 FROM channel_members m
                                         WHERE m.channel_id = i.channel_id AND m.user_id = $1))
                       ORDER BY i.service LIMIT 1)
               FROM s WHERE s.service IS NOT NULL
           )
           SELECT service AS "service!" FROM s WHERE service IS NOT NULL"#,
        viewer
    )
    .fetch_all(db)
    .await
}

/// The names warroom knows for `users`: the profile name Slack gave at each one's newest
/// console sign-in. Someone who never signed in has none (shown by user ID).
pub async fn names(db: &PgPool, users: &[String]) -> sqlx::Result<HashMap<String, String>> {
    let rows = sqlx::query!(
        "SELECT DISTINCT ON (user_id) user_id, name FROM console_sessions WHERE user_id = ANY($1) \
         ORDER BY user_id, created_at DESC",
        users
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.name)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_takes_percent_underscore_and_backslash_literally() {
        assert_eq!(like_literal("100%_done\\x"), "100\\%\\_done\\\\x");
        assert_eq!(like_literal("plain"), "plain");
    }
}
