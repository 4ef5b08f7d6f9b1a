-- The bookmarks warroom keeps in an incident channel: one row per channel and kind (war room,
-- runbook, status page, report), so a bookmark is added once and then edited. `link` and
-- `source` (what the link was made from: the file id, the message ts, the URL) are what Slack
-- is known to have. `uncertain` is set before an add goes out and cleared by Slack's sure
-- answer: an add whose answer was lost is looked for with `bookmarks.list` before adding again.
CREATE TABLE channel_bookmarks (
    channel_id  text NOT NULL,
    kind        text NOT NULL,
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    bookmark_id text,
    link        text,
    source      text,
    uncertain   boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (channel_id, kind)
);
