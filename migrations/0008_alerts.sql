-- Alerts from Alertmanager and Grafana: each alert group (one `groupKey` of one source) declares
-- at most one incident; the alerts seen in it, by fingerprint, so that the group's resends add
-- only what is new; and the runbook link an alert brings to its incident's declaration.

CREATE TABLE alert_groups (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source        text NOT NULL CHECK (source IN ('alertmanager', 'grafana')),
    group_key     text NOT NULL,
    incident_id   uuid NOT NULL REFERENCES incidents (id),
    -- The group's state as last notified; a change to `resolved` is acted on once.
    status        text NOT NULL CHECK (status IN ('firing', 'resolved')),
    -- How many times the group went from firing to resolved (numbers the resolved prompts).
    resolutions   integer NOT NULL DEFAULT 0,
    notifications bigint NOT NULL DEFAULT 1,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    resolved_at   timestamptz,
    UNIQUE (source, group_key)
);

CREATE TABLE alert_group_alerts (
    group_id      bigint NOT NULL REFERENCES alert_groups (id),
    fingerprint   text NOT NULL,
    status        text NOT NULL CHECK (status IN ('firing', 'resolved')),
    labels        jsonb NOT NULL,
    starts_at     timestamptz,
    ends_at       timestamptz,
    first_seen_at timestamptz NOT NULL,
    PRIMARY KEY (group_id, fingerprint)
);

ALTER TABLE incidents ADD COLUMN runbook_url text;
