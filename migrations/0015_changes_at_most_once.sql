-- Changes at most once. An approved request is used up when its change starts: it moves to
-- `running` (or, for a remote runner, `dispatched` while its task waits and `running` once the
-- runner took it) in a committed transaction before anything runs, and ends `done` or `failed`
-- with its outcome, in the transaction that records it. A request found `running` without an
-- outcome (the process was killed, the outcome could not be recorded, the runner never
-- reported) becomes `outcome_unknown` and never runs again. Pending and approved requests that
-- have not started are `cancelled` when the incident resolves.

ALTER TABLE approval_requests DROP CONSTRAINT approval_requests_state_check;
ALTER TABLE approval_requests ADD CONSTRAINT approval_requests_state_check
    CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'dispatched', 'running', 'done', 'failed',
                     'outcome_unknown', 'cancelled'));

ALTER TABLE approval_requests
    ADD COLUMN started_at    timestamptz,
    ADD COLUMN finished_at   timestamptz,
    -- One line: "exit 0 in 812 ms", "refused by runner edge-1: ...".
    ADD COLUMN outcome       text,
    ADD COLUMN cancel_reason text CHECK (cancel_reason IN ('resolved', 'expired'));

-- A runner's task that was sent but never reported within its time limit and a margin.
ALTER TABLE runner_tasks DROP CONSTRAINT runner_tasks_state_check;
ALTER TABLE runner_tasks ADD CONSTRAINT runner_tasks_state_check
    CHECK (state IN ('queued', 'sent', 'done', 'cancelled', 'outcome_unknown'));
ALTER TABLE runner_tasks ADD COLUMN unknown_at timestamptz;

-- A change's task, by its request (is the request a remote runner's?).
CREATE INDEX runner_tasks_approval ON runner_tasks (approval_id) WHERE approval_id IS NOT NULL;
