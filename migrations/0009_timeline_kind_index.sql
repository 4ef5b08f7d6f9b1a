-- The report reads an incident's events of one kind at a time (its diagnostics, its status page
-- updates, ...): in order, without scanning the rest of a long timeline.
CREATE INDEX timeline_events_incident_kind ON timeline_events (incident_id, kind, at, id);
