-- The incident lifecycle: the current update's fields, resolution, and the scheduler's state.

ALTER TABLE incidents
    -- The status in people's words ("Still down"), beside the status page's word in `status`.
    ADD COLUMN status_text         text,
    ADD COLUMN root_cause          text,
    ADD COLUMN current_action      text,
    ADD COLUMN eta                 text,
    ADD COLUMN resolution          text,
    ADD COLUMN resolved_by         text,
    -- When a person last posted an update (the scheduled post repeats it, or nags when stale).
    ADD COLUMN last_update_at      timestamptz,
    -- When the last scheduled status update went out, and how many in a row had nothing new.
    ADD COLUMN last_status_post_at timestamptz,
    ADD COLUMN silent_posts        integer NOT NULL DEFAULT 0,
    -- When the next scheduled status update is due (NULL: none planned).
    ADD COLUMN next_update_at      timestamptz;

-- Timers of a resolved incident, or of a replaced plan, are cancelled, never deleted.
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled'));
