-- Escalation: which tiers of an incident's ladder have fired (by their timer, or "Escalate now"),
-- by whom and why, and whether PagerDuty was paged for them. One row per (incident, tier), so a
-- tier fires once whatever races a timer, a click and a second replica run.

CREATE TABLE escalations (
    incident_id uuid NOT NULL REFERENCES incidents (id),
    tier        integer NOT NULL CHECK (tier >= 1),
    fired_at    timestamptz NOT NULL,
    fired_by    text NOT NULL,
    reason      text NOT NULL,
    paged       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (incident_id, tier)
);
