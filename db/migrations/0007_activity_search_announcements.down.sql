DROP TRIGGER IF EXISTS events_notify_recipients ON events;
CREATE TRIGGER events_notify_recipients BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION eccr_events_notify_recipients();
DELETE FROM notifications WHERE type = 'announcement';
CREATE OR REPLACE FUNCTION eccr_notification_json(n notifications) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', n.id, 'type', n.type, 'title', n.title, 'message', n.message,
        'resource_type', n.resource_type, 'resource_id', n.resource_id,
        'episode_id', n.episode_id, 'read_at', eccr_ts(n.read_at),
        'created_at', eccr_ts(n.created_at))::text
$$;
ALTER TABLE notifications DROP COLUMN IF EXISTS expires_at;
DROP INDEX IF EXISTS activity_logs_search;
ALTER TABLE activity_logs DROP COLUMN IF EXISTS search;
ALTER TABLE activity_logs DROP COLUMN IF EXISTS subject;
ALTER TABLE activity_logs DROP COLUMN IF EXISTS actor_name;
DROP TRIGGER IF EXISTS events_job_type ON events;
DROP FUNCTION IF EXISTS eccr_events_job_type();
