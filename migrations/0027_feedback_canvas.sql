-- Feedback (`[feedback] ask`): who was asked about which incident, one row per person, written
-- when their DM is queued, so that a reopened and resolved-again incident asks nobody twice and
-- only the people asked may answer.
CREATE TABLE feedback_asks (
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    user_id     text NOT NULL,
    asked_at    timestamptz NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);

-- The post-mortem canvas (`[slack] postmortem_canvas`): the channel canvas warroom created for
-- an incident. `uncertain` is set before `conversations.canvases.create` goes out and cleared by
-- Slack's sure answer: a create whose answer was lost is looked for in `conversations.info`
-- (`properties.canvas.file_id`) before creating again. `refused` is the plan's refusal (its
-- error code), after which no canvas is tried again and the channel is told once.
CREATE TABLE incident_canvases (
    incident_id uuid PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    channel_id  text NOT NULL,
    canvas_id   text,
    uncertain   boolean NOT NULL DEFAULT false,
    refused     text,
    updated_at  timestamptz NOT NULL
);
