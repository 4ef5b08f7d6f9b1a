-- The catch-up card (`src/catchup/`): who has been greeted in each incident channel, and the
-- indexes that keep the card's one query independent of how long the incident (and warroom) has
-- been running.

-- One row per person seen joining (or leaving) an incident's channel. `present`: in the channel as
-- far as the Events API said; `joins`: how many joins have been seen, so that each join's card job
-- has its own slot (a repeated join for someone present changes nothing; a leave then a join is a
-- new join and a new card).
CREATE TABLE catchup_joins (
    incident_id uuid    NOT NULL REFERENCES incidents (id),
    user_id     text    NOT NULL,
    present     boolean NOT NULL,
    joins       integer NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);

-- The card's running diagnostics and pending approvals: an incident's open requests and waiting
-- runner tasks, without reading every request and task warroom ever had.
CREATE INDEX approval_requests_open ON approval_requests (incident_id, requested_at)
    WHERE state IN ('pending', 'approved', 'dispatched', 'running');
CREATE INDEX runner_tasks_open ON runner_tasks (incident_id, created_at) WHERE state IN ('queued', 'sent');

-- Which incident a channel is (every Events API event about a channel asks).
CREATE INDEX incidents_channel ON incidents (channel_id) WHERE channel_id IS NOT NULL;
