-- The roles of an incident other than its commander (the commander is `incidents.commander`):
-- one row per filled role, its current holder. Each assignment is also a `role_assigned`
-- timeline event, so the history of who held a role lives in the append-only timeline and this
-- table answers "who holds it now" with one primary-key read.
CREATE TABLE incident_roles (
    incident_id uuid NOT NULL REFERENCES incidents (id),
    role        text NOT NULL CHECK (role ~ '^[a-z][a-z0-9_]{0,31}$' AND role <> 'commander'),
    user_id     text NOT NULL,
    assigned_at timestamptz NOT NULL,
    assigned_by text NOT NULL,
    PRIMARY KEY (incident_id, role)
);
