-- "Seen before": resolved incidents of the same service, or with a similar title (`pg_trgm`).
-- The extension is tried, never required: a server without it (or a role that may not create
-- it) still migrates, and warroom matches the same service only (said once at start).
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm cannot be created (%): "seen before" matches the same service only', SQLERRM;
END
$$;

-- Only resolved, non-private incidents are ever shown as seen before: both indexes hold just those.
-- GiST, not GIN: its nearest-first scan (`title <-> $t ... LIMIT 3`) stops after three rows.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX incidents_seen_before_title ON incidents USING gist (title gist_trgm_ops)
            WHERE resolved_at IS NOT NULL AND NOT private;
    END IF;
END
$$;

CREATE INDEX incidents_seen_before_service ON incidents (service, resolved_at DESC)
    WHERE resolved_at IS NOT NULL AND NOT private;
