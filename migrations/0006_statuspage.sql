-- The status page side of an incident: which status page incident mirrors it and how the sync
-- is going; the customer texts waiting for a person's confirmation (manual mode); and the
-- request budget shared by every replica (Statuspage allows one request per second per key).

CREATE TABLE statuspage_sync (
    incident_id    uuid PRIMARY KEY REFERENCES incidents (id),
    -- The status page incident, once created (or found) there.
    statuspage_id  text,
    shortlink      text,
    -- Pushes are numbered per incident and delivered in that order.
    next_seq       integer NOT NULL DEFAULT 1,
    -- The lookup for an incident we may already have created came back empty: creating is safe.
    looked_up      boolean NOT NULL DEFAULT false,
    -- A push whose outcome is unknown (timeout, 5xx): the status page is checked before it is repeated.
    unverified_seq integer,
    -- The status the status page was last given, to see drift against.
    pushed_status  text,
    synced_at      timestamptz,
    failing_since  timestamptz,
    last_error     text
);

CREATE TABLE statuspage_drafts (
    id          uuid PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    -- The incident as it was when the update was made, and the customer text shown for it.
    snapshot    jsonb NOT NULL,
    body        text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    posted_by   text,
    posted_at   timestamptz
);

CREATE TABLE rate_limits (
    key       text PRIMARY KEY,
    next_free timestamptz NOT NULL
);
