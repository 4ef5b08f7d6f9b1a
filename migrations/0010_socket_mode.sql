-- Socket Mode: Slack delivers an envelope again when its acknowledgement did not arrive (a
-- dropped connection). The answer given the first time is kept with the delivery's key, so the
-- repeat is answered the same way and acted on not at all.
ALTER TABLE idempotency_keys ADD COLUMN response jsonb;
