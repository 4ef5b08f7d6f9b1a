-- Remote diagnostics runners: their heartbeats, and the tasks waiting for them.

CREATE TABLE runners (
    name      text PRIMARY KEY,
    last_seen timestamptz NOT NULL
);

CREATE TABLE runner_tasks (
    id          uuid PRIMARY KEY,
    runner      text NOT NULL,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    action      text NOT NULL,
    params      jsonb NOT NULL,
    requested_by text NOT NULL,
    state       text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'done')),
    created_at  timestamptz NOT NULL,
    sent_at     timestamptz,
    done_at     timestamptz
);

CREATE INDEX runner_tasks_waiting ON runner_tasks (runner, created_at) WHERE state = 'queued';
