-- 0007_activity_search_announcements: full-text search over the activity
-- trail, job types in every job event, and announcements (notifications an
-- admin sends, which may expire).

-- ------------------------------------------------------------ job events

-- Every job event names its job's type (job_created and job_started always
-- did), so that sinks, WebSocket clients and the activity trail can say
-- "the checksum job failed" without a look-up of their own; the activity
-- store may be another database, where jobs cannot be read.  Only the
-- events that lack it are touched: one primary-key look-up each.
CREATE FUNCTION eccr_events_job_type() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    IF NEW.resource_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        SELECT j.type INTO t FROM jobs j WHERE j.id = NEW.resource_id::uuid;
        IF t IS NOT NULL THEN
            NEW.data := NEW.data || jsonb_build_object('type', t);
        END IF;
    END IF;
    RETURN NEW;
END
$$;
-- BEFORE, so the event's data is complete when it is written; the name
-- sorts before events_notify_recipients, which PostgreSQL fires after it.
CREATE TRIGGER events_job_type BEFORE INSERT ON events
    FOR EACH ROW WHEN (NEW.resource_type = 'job' AND jsonb_typeof(NEW.data) = 'object'
                       AND NOT (NEW.data ? 'type'))
    EXECUTE FUNCTION eccr_events_job_type();

-- ------------------------------------------------------------ activity search

-- What an entry names, written by the activity-pg sink: subject is the
-- resource's name (an episode's title, a file's name, a job's type, an
-- announcement's title) and actor_name the actor's display name.
ALTER TABLE activity_logs ADD COLUMN actor_name text, ADD COLUMN subject text;

-- Existing rows become searchable too: names from their events, job types
-- from the jobs (their old events did not carry them).
UPDATE activity_logs a SET
    actor_name = (SELECT e.actor_name FROM events e WHERE e.id = a.event_id),
    subject = CASE a.resource_type
        WHEN 'episode' THEN a.metadata->>'title'
        WHEN 'file' THEN a.metadata->>'name'
        WHEN 'job' THEN coalesce(a.metadata->>'type',
            (SELECT j.type FROM jobs j WHERE a.resource_id ~
                 '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
             AND j.id = a.resource_id::uuid))
        END;

-- The 'simple' configuration (lower-cased words, no stemming, no stop
-- words): these are names, not prose, in any language, so "The Who" and
-- "Das Boot" must be found as typed.  A file name is also split at its
-- punctuation, because the parser keeps "take_3.wav" as one token: both
-- "take_3.wav" and "take" find it.  See docs/performance.md for the
-- measurements behind the GIN index.
ALTER TABLE activity_logs ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('simple'::regconfig, coalesce(subject, '')) ||
    to_tsvector('simple'::regconfig,
                regexp_replace(coalesce(subject, ''), '[^[:alnum:]]+', ' ', 'g')) ||
    to_tsvector('simple'::regconfig, coalesce(actor_name, '')) ||
    to_tsvector('simple'::regconfig, user_id)) STORED;
CREATE INDEX activity_logs_search ON activity_logs USING gin (search);

-- ------------------------------------------------------------ announcements

ALTER TABLE notifications ADD COLUMN expires_at timestamptz;

CREATE OR REPLACE FUNCTION eccr_notification_json(n notifications) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', n.id, 'type', n.type, 'title', n.title, 'message', n.message,
        'resource_type', n.resource_type, 'resource_id', n.resource_id,
        'episode_id', n.episode_id, 'read_at', eccr_ts(n.read_at),
        'created_at', eccr_ts(n.created_at), 'expires_at', eccr_ts(n.expires_at))::text
$$;

-- An announcement's recipients are named by the statement that sends it
-- (POST /notifications), which writes its rows and their events itself;
-- the trigger of 0005 must not add the actor and watchers, whatever
-- notifications.types says.  notification_created never notifies: the
-- WHEN spares those rows a function call.
DROP TRIGGER events_notify_recipients ON events;
CREATE TRIGGER events_notify_recipients BEFORE INSERT ON events
    FOR EACH ROW WHEN (NEW.type NOT IN ('notification_created', 'announcement'))
    EXECUTE FUNCTION eccr_events_notify_recipients();
