-- Remote runners' tasks carry the SHA-256 the runner's own rendering must match (a change's is
-- its approval's), and a change task waits only until its approval expires or its incident
-- resolves: then it is cancelled, never sent.

ALTER TABLE runner_tasks
    ADD COLUMN action_hash   text,
    ADD COLUMN approval_id   uuid REFERENCES approval_requests (id),
    ADD COLUMN expires_at    timestamptz,
    ADD COLUMN cancelled_at  timestamptz,
    ADD COLUMN cancel_reason text CHECK (cancel_reason IN ('expired', 'resolved'));

ALTER TABLE runner_tasks DROP CONSTRAINT runner_tasks_state_check;
ALTER TABLE runner_tasks ADD CONSTRAINT runner_tasks_state_check
    CHECK (state IN ('queued', 'sent', 'done', 'cancelled'));

-- A change task has an approval and its expiry, or neither.
ALTER TABLE runner_tasks ADD CONSTRAINT runner_tasks_change_expires
    CHECK ((approval_id IS NULL) = (expires_at IS NULL));
