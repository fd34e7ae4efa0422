CREATE INDEX IF NOT EXISTS events_resource_idx ON events (resource_type, resource_id);
