-- The console's insights (`src/console/insights_query.rs`) read a range of weeks of incidents
-- and, for each, its first status update. At 100,000 incidents EXPLAIN showed a sequential scan
-- of `incidents` for any range and, per incident, a scan of its events filtered by kind
-- (`timeline_events_incident`), with 97,000 such probes for a year: by declaration time, and the
-- first update in one index-only probe (the index holds only those two kinds of events). The
-- range is read through 0029's `incidents_console_declared_at` (the list's index on the same column).
CREATE INDEX timeline_events_first_update ON timeline_events (incident_id, at)
    WHERE kind IN ('updated', 'status_update_posted');
