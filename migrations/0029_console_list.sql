-- The console's incidents list (`GET /console`): newest first by number, paged by keyset
-- (`number < $cursor ... ORDER BY number DESC LIMIT 51`), filtered by status, severity, service,
-- declared time and title. The unique index on `number` serves the unfiltered list; these serve
-- the filters that would otherwise walk most of that index to fill a page (measured with
-- EXPLAIN ANALYZE over 100,000 incidents, `benches/console_list.rs`).

-- One service, newest first (and the loose index scan that lists the services in the filter).
CREATE INDEX incidents_console_service ON incidents (service, number);

-- Open incidents are few among many resolved ones.
CREATE INDEX incidents_console_open ON incidents (number) WHERE status <> 'resolved';

-- A time range: the planner reads the range, then sorts that page's candidates by number.
CREATE INDEX incidents_console_declared_at ON incidents (declared_at);

-- Title search (`ILIKE '%…%'`): a trigram index when `pg_trgm` is there (0025 tries to create
-- it); without it the search still works, walking the list.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX incidents_console_title ON incidents USING gin (title gin_trgm_ops);
    END IF;
END
$$;

-- The commander's name, from the newest console session of that person (Slack's profile name,
-- given at sign-in): warroom stores no other names.
CREATE INDEX console_sessions_user ON console_sessions (user_id, created_at DESC);
