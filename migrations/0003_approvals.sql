-- Two-person approvals for changes (restart, rollback, scale): a request bound to the hash of the
-- exact action and argument vector, and one vote per person.

CREATE TABLE approval_requests (
    id           uuid PRIMARY KEY,
    incident_id  uuid NOT NULL REFERENCES incidents (id),
    action       text NOT NULL,
    params       jsonb NOT NULL,
    argv         jsonb NOT NULL,
    action_hash  text NOT NULL,
    requested_by text NOT NULL,
    reason       text,
    required     integer NOT NULL CHECK (required >= 1),
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'denied', 'expired')),
    requested_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    decided_at   timestamptz,
    channel_id   text,
    message_ts   text
);

CREATE TABLE approval_votes (
    request_id uuid NOT NULL REFERENCES approval_requests (id),
    user_id    text NOT NULL,
    decision   text NOT NULL CHECK (decision IN ('approve', 'deny')),
    at         timestamptz NOT NULL,
    PRIMARY KEY (request_id, user_id)
);
