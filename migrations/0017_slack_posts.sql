-- Exactly-once posts: one row per job that posts a message. Written before the request goes out
-- (`uncertain`), settled when Slack answers; a job whose last attempt ended without a sure answer
-- looks for its own message (metadata `warroom_post`, its job id) in the channel's history since
-- `first_attempt_at` before posting again.
CREATE TABLE slack_posts (
    job_id           bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    channel          text NOT NULL,
    first_attempt_at timestamptz NOT NULL,
    uncertain        boolean NOT NULL DEFAULT false,
    lookups          integer NOT NULL DEFAULT 0,
    posted_channel   text,
    ts               text
);
