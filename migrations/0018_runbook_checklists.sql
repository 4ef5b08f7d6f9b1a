-- The runbook checklist of an incident. `checklist` is the service's runbook as it was when the
-- incident's checklist was first posted (sections, steps, the action each step maps to), so that
-- a restart with an edited runbook changes no incident's steps. Jobs that post or update the
-- checklist's messages lock this row (FOR NO KEY UPDATE) for as long as they render and call
-- Slack, so that the last message edit always shows the latest state; clicks never lock it.
CREATE TABLE incident_checklists (
    incident_id uuid PRIMARY KEY REFERENCES incidents (id),
    checklist   jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);

-- One row per step somebody acted on (a step without a row is open). A click locks its step's row,
-- so that a double click or a repeated delivery finds the first one's effect. `run_*`: a Run or
-- Request from the checklist (the action, the hash of its exact command, the approval request of a
-- change); `done_*`: the tick, written once — by a Done click, or when the run finishes.
CREATE TABLE checklist_steps (
    incident_id uuid NOT NULL REFERENCES incidents (id),
    step        integer NOT NULL,
    run_by      text,
    run_at      timestamptz,
    action      text,
    action_hash text,
    approval_id uuid REFERENCES approval_requests (id),
    done_by     text,
    done_at     timestamptz,
    done_via    text CHECK (done_via IN ('done', 'run')),
    result      text CHECK (result IN ('ok', 'failed')),
    PRIMARY KEY (incident_id, step)
);

-- A finished run looks for the checklist step it ticks by its command's hash.
CREATE INDEX checklist_steps_waiting ON checklist_steps (incident_id, action_hash)
    WHERE done_at IS NULL AND action_hash IS NOT NULL;

-- The checklist's messages: `posting` is `declared` for the one posted at declaration, and the
-- trigger of each `/incident runbook` that posted it again; `shown` is a hash of the blocks
-- Slack was last sent, so that an update edits only the parts whose state changed.
CREATE TABLE checklist_messages (
    incident_id uuid NOT NULL REFERENCES incidents (id),
    posting     text NOT NULL,
    part        integer NOT NULL,
    channel_id  text NOT NULL,
    ts          text NOT NULL,
    shown       text NOT NULL,
    posted_at   timestamptz NOT NULL,
    PRIMARY KEY (incident_id, posting, part)
);
