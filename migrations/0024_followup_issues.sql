-- Follow-ups (`/incident followup`, a `followup_added` event) tracked as issues in the service's
-- tracker (`[services.x] tracker`). One row per follow-up, written with its event when the
-- service has a tracker; the follow-up's id is its event's id (the `warroom:followup:<id>`
-- marker in the issue's body).
CREATE TABLE followup_issues (
    -- The `followup_added` event's id. No foreign key: the timeline is append-only (its trigger
    -- refuses UPDATE, DELETE and TRUNCATE), so the event is always there, and a reference would
    -- answer a TRUNCATE before the append-only trigger does.
    followup_id      bigint PRIMARY KEY,
    incident_id      uuid NOT NULL REFERENCES incidents (id),
    -- `github:owner/repo`, `jira:PROJ`, `linear:TEAM`, as configured when it was added.
    tracker          text NOT NULL,
    -- When the follow-up is due: added + its horizon (immediate 2 h, short 24 h, long 7 d).
    due_at           timestamptz NOT NULL,
    -- The creation: an attempt is marked uncertain (committed) before its request goes out and
    -- settled by the tracker's answer; an attempt after an uncertain one searches for the marker.
    first_attempt_at timestamptz,
    uncertain        boolean NOT NULL DEFAULT false,
    -- The issue, once created or found: its key (`acme/api#12`, `OPS-7`, `ENG-3`), link, the
    -- tracker's own word for its state, and whether that means done.
    issue_key        text,
    issue_url        text,
    issue_state      text,
    closed           boolean NOT NULL DEFAULT false,
    created_at       timestamptz,
    -- The tracker refused the issue for good (401, 404, 422 ...): its message.
    refused          text,
    -- The state read back every `[trackers] sync_every`.
    synced_at        timestamptz,
    sync_error       text,
    -- Nudges of an overdue open item: how many were sent (1: the owner's DM, 2: the channel).
    nudges           integer NOT NULL DEFAULT 0,
    nudged_at        timestamptz
);

CREATE INDEX followup_issues_incident ON followup_issues (incident_id, followup_id);
