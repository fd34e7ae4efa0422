-- 0005_notifications: watchers, preferences and the in-app inbox.
--
-- Notifications are written by PostgreSQL itself, in the transaction of
-- the change: a trigger on events turns each event of a notifiable type
-- into one notification per recipient, and each notification into a
-- notification_created event.  So every writer of events (eccr-fcgi's
-- handlers, eccr-worker's job_completed and job_failed, a future tool)
-- notifies alike, with no code in any handler.

CREATE TABLE episode_watchers (
    episode_id  uuid NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    user_id     text NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 128),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (episode_id, user_id)
);
CREATE INDEX episode_watchers_user ON episode_watchers (user_id);

-- Absent row: the defaults of API.md (e-mail on, nothing muted).
CREATE TABLE user_preferences (
    user_id              text PRIMARY KEY CHECK (char_length(user_id) BETWEEN 1 AND 128),
    email_notifications  boolean NOT NULL DEFAULT true,
    muted_types          text[] NOT NULL DEFAULT '{}',
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- The notifiable event types: a copy of notifications.types that eccr-fcgi
-- and eccr-worker write at start-up (the trigger cannot read eccr.conf).
-- Seeded with the default of API.md, so a database is right before any
-- process started.
CREATE TABLE notification_types (
    type  text PRIMARY KEY CHECK (type ~ '^[a-z0-9_]{1,64}$' AND type <> 'notification_created')
);
INSERT INTO notification_types (type) VALUES ('episode_created'), ('episode_deleted'),
    ('file_uploaded'), ('file_deleted'), ('job_created'), ('job_failed'), ('job_completed');

CREATE TABLE notifications (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- inbox order and cursor
    user_id        text NOT NULL,
    event_id       bigint NOT NULL,   -- the change it tells of
    type           text NOT NULL,
    title          text NOT NULL,
    message        text NOT NULL,
    resource_type  text NOT NULL,
    resource_id    text NOT NULL,
    episode_id     uuid,              -- no foreign key: "episode deleted" outlives it
    actor_id       text NOT NULL,
    read_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, user_id)
);
CREATE INDEX notifications_inbox ON notifications (user_id, seq);
CREATE INDEX notifications_unread ON notifications (user_id, seq) WHERE read_at IS NULL;

-- An event written because of another one (notification_created because
-- of the change): the dispatcher that delivers an event takes the events
-- it caused along, so they reach the sinks as promptly.
ALTER TABLE events ADD COLUMN caused_by bigint;
CREATE INDEX events_caused_by_idx ON events (caused_by) WHERE caused_by IS NOT NULL;

CREATE FUNCTION eccr_notification_json(n notifications) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', n.id, 'type', n.type, 'title', n.title, 'message', n.message,
        'resource_type', n.resource_type, 'resource_id', n.resource_id,
        'episode_id', n.episode_id, 'read_at', eccr_ts(n.read_at),
        'created_at', eccr_ts(n.created_at))::text
$$;

-- Its creator watches an episode from its creation.
CREATE FUNCTION eccr_episodes_watch_creator() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO episode_watchers (episode_id, user_id) VALUES (NEW.id, NEW.created_by)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER episodes_watch_creator AFTER INSERT ON episodes
    FOR EACH ROW EXECUTE FUNCTION eccr_episodes_watch_creator();

-- What a notification says: {name (the resource: episode title, file
-- name, job type), episode (the episode's title), title, message}.
CREATE FUNCTION eccr_notification_text(ev events, job_type text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    who      text := coalesce(nullif(ev.actor_name, ''), ev.actor_id);
    episode  text;
    name     text;
    title    text;
    message  text;
BEGIN
    IF ev.resource_type = 'episode' THEN
        episode := ev.data->>'title';
    ELSIF ev.episode_id IS NOT NULL THEN
        SELECT e.title INTO episode FROM episodes e WHERE e.id = ev.episode_id;
    END IF;
    name := CASE ev.resource_type WHEN 'episode' THEN episode
                                  WHEN 'file' THEN ev.data->>'name'
                                  WHEN 'job' THEN job_type END;
    name := coalesce(name, ev.resource_id);
    CASE ev.type
    WHEN 'episode_created' THEN
        title := 'Episode created: ' || name;
        message := format('%s created the episode "%s".', who, name);
    WHEN 'episode_updated' THEN
        title := 'Episode updated: ' || name;
        message := format('%s changed %s of the episode "%s".', who,
            coalesce((SELECT string_agg(f, ', ') FROM jsonb_array_elements_text(
                CASE jsonb_typeof(ev.data->'changed_fields') WHEN 'array'
                     THEN ev.data->'changed_fields' ELSE '[]' END) f), 'fields'), name);
    WHEN 'episode_deleted' THEN
        title := 'Episode deleted: ' || name;
        message := format('%s deleted the episode "%s".', who, name);
    WHEN 'file_uploaded' THEN
        title := 'File uploaded: ' || name;
        message := format('%s uploaded the file "%s"%s.', who, name,
            coalesce(' to the episode "' || episode || '"', ''));
    WHEN 'file_deleted' THEN
        title := 'File deleted: ' || name;
        message := format('%s deleted the file "%s"%s.', who, name,
            coalesce(' of the episode "' || episode || '"', ''));
    WHEN 'job_created' THEN
        title := 'Job created: ' || name;
        message := format('%s queued a %s job%s.', who, name,
            coalesce(' for the episode "' || episode || '"', ''));
    WHEN 'job_completed' THEN
        title := 'Job completed: ' || name;
        message := format('The %s job%s completed.', name,
            coalesce(' for the episode "' || episode || '"', ''));
    WHEN 'job_failed' THEN
        title := 'Job failed: ' || name;
        message := format('The %s job%s failed: %s', name,
            coalesce(' for the episode "' || episode || '"', ''),
            coalesce(ev.data->>'error', 'no reason given'));
    ELSE
        title := initcap(replace(ev.type, '_', ' ')) || ': ' || name;
        message := format('%s: %s %s (%s).', who, replace(ev.type, '_', ' '), name,
            ev.resource_type);
    END CASE;
    RETURN jsonb_build_object('name', left(name, 500), 'episode', left(episode, 500),
        'title', left(title, 600), 'message', left(message, 2000));
END
$$;

-- BEFORE INSERT, not AFTER: when an episode is deleted, ON DELETE CASCADE
-- removes its watchers at the end of the deleting statement, and its
-- watchers are exactly who must hear of it.  The event's id is already
-- assigned (column defaults come before BEFORE triggers).
CREATE FUNCTION eccr_events_notify_recipients() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    job_type     text;
    job_creator  text;
    txt          jsonb;
BEGIN
    IF NEW.type = 'notification_created' OR
       NOT EXISTS (SELECT 1 FROM notification_types t WHERE t.type = NEW.type) THEN
        RETURN NEW;
    END IF;
    IF NEW.resource_type = 'job' AND
       NEW.resource_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        -- A job inserted by this very statement (job_created) is not
        -- visible yet: its type comes with the event.
        SELECT j.type, j.created_by INTO job_type, job_creator
            FROM jobs j WHERE j.id = NEW.resource_id::uuid;
        job_type := coalesce(NEW.data->>'type', job_type);
        IF NEW.type NOT IN ('job_completed', 'job_failed') THEN
            job_creator := NULL;
        END IF;
    END IF;
    txt := eccr_notification_text(NEW, job_type);
    WITH who AS (
        SELECT w.user_id FROM episode_watchers w
            WHERE NEW.episode_id IS NOT NULL AND w.episode_id = NEW.episode_id
        UNION SELECT NEW.actor_id
        UNION SELECT job_creator WHERE job_creator IS NOT NULL),
    recipients AS (
        -- Only users who acted at least once (so "system" is nobody).
        SELECT u.id FROM users u JOIN who ON who.user_id = u.id
        WHERE NOT EXISTS (SELECT 1 FROM user_preferences p
                          WHERE p.user_id = u.id AND NEW.type = ANY (p.muted_types))),
    n AS (
        INSERT INTO notifications (user_id, event_id, type, title, message,
                                   resource_type, resource_id, episode_id, actor_id)
        SELECT r.id, NEW.id, NEW.type, txt->>'title', txt->>'message',
               NEW.resource_type, NEW.resource_id, NEW.episode_id, NEW.actor_id
        FROM recipients r ORDER BY r.id
        ON CONFLICT (event_id, user_id) DO NOTHING
        RETURNING *)
    -- episode_id stays NULL: the event is for its recipient's room only,
    -- never for the episode's.
    INSERT INTO events (type, actor_id, actor_name, resource_type, resource_id,
                        episode_id, data, caused_by, created_at)
    SELECT 'notification_created', NEW.actor_id, NEW.actor_name, 'notification',
           n.id::text, NULL,
           jsonb_build_object('user_id', n.user_id, 'event_id', NEW.id::text,
               'event_type', NEW.type, 'resource_name', txt->'name',
               'episode_title', txt->'episode',
               'notification', eccr_notification_json(n)::jsonb),
           NEW.id, NEW.created_at
    FROM n ORDER BY n.user_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER events_notify_recipients BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION eccr_events_notify_recipients();
