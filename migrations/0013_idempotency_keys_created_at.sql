-- The hourly purge deletes idempotency keys older than a week by their age.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
