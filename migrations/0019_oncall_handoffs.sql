-- "Take command" offers: when an incident commander's on-call shift ends, the next on-call is
-- asked to take over. One row per offer; the first click that may take it sets `taken_by`, and
-- every later click finds it taken (a repeated click acts once).
CREATE TABLE oncall_handoffs (
    id          uuid PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    from_user   text NOT NULL,
    to_user     text NOT NULL,
    on_call_for text NOT NULL,
    shift_end   timestamptz NOT NULL,
    offered_at  timestamptz NOT NULL,
    taken_by    text,
    taken_at    timestamptz,
    -- The offer's messages as posted ([{channel, ts}]): edited once it is taken.
    messages    jsonb NOT NULL DEFAULT '[]',
    UNIQUE (incident_id, shift_end, to_user)
);
