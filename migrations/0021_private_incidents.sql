-- Private incidents (`/incident declare --private`, the declare modal's box, `[services.x] private`):
-- a private channel, no public trail, and shown only to the incident channel's members.
ALTER TABLE incidents ADD COLUMN private boolean NOT NULL DEFAULT false;
