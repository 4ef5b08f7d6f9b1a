-- The foundation: incidents, their append-only timeline, the durable job queue and the
-- idempotency keys that make Slack's redeliveries harmless.

CREATE TABLE incidents (
    id                  uuid PRIMARY KEY,
    number              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    title               text NOT NULL,
    service             text NOT NULL,
    severity            text NOT NULL CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
    status              text NOT NULL DEFAULT 'investigating'
                        CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    commander           text NOT NULL,
    declared_by         text NOT NULL,
    impact              text,
    -- Where the declaration came from, so failures can be reported back to the declarer.
    origin_channel      text,
    response_url        text,
    -- Slack objects warroom created for the incident.
    channel_id          text,
    channel_name        text,
    declaration_ts      text,
    announce_channel_id text,
    announce_ts         text,
    -- Lifecycle timestamps: MTTA and MTTR come from these, exactly.
    detected_at         timestamptz,
    declared_at         timestamptz NOT NULL,
    acknowledged_at     timestamptz,
    acknowledged_by     text,
    mitigated_at        timestamptz,
    resolved_at         timestamptz
);

CREATE INDEX incidents_open ON incidents (declared_at) WHERE resolved_at IS NULL;

CREATE TABLE timeline_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX timeline_events_incident ON timeline_events (incident_id, at, id);

-- The timeline is evidence for the post-mortem: once written, it never changes.
CREATE FUNCTION timeline_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'timeline_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER timeline_events_no_update_delete
    BEFORE UPDATE OR DELETE ON timeline_events
    FOR EACH ROW EXECUTE FUNCTION timeline_events_append_only();

CREATE TRIGGER timeline_events_no_truncate
    BEFORE TRUNCATE ON timeline_events
    FOR EACH STATEMENT EXECUTE FUNCTION timeline_events_append_only();

-- The durable queue for every side effect and timer. (incident, kind, slot) is unique so that
-- a retry, a restart or a second replica can neither skip nor repeat a piece of work.
CREATE TABLE jobs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  uuid REFERENCES incidents (id),
    kind         text NOT NULL,
    slot         text NOT NULL DEFAULT '',
    payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    run_at       timestamptz NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 6,
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    CONSTRAINT jobs_once UNIQUE NULLS NOT DISTINCT (incident_id, kind, slot)
);

CREATE INDEX jobs_due ON jobs (run_at, id) WHERE state IN ('queued', 'running');

-- Slack trigger ids, Events API event ids, modal view ids: each is acted on once.
CREATE TABLE idempotency_keys (
    key         text PRIMARY KEY,
    incident_id uuid REFERENCES incidents (id),
    created_at  timestamptz NOT NULL
);
