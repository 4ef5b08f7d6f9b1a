-- The modals warroom opened (views.open answered with their id): a view_submission is acted on
-- only for one of these, with the callback and private metadata warroom gave it. A submission
-- of any other view (forged, or another app's) is refused.
CREATE TABLE opened_views (
    view_id          text PRIMARY KEY,
    callback_id      text NOT NULL,
    private_metadata text NOT NULL DEFAULT '',
    opened_for       text,
    opened_at        timestamptz NOT NULL
);

CREATE INDEX opened_views_age ON opened_views (opened_at);
