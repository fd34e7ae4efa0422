-- 0001_init: users, episodes and the events outbox.

CREATE TABLE users (
    id          text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 128),
    name        text,
    email       text,
    role        text NOT NULL DEFAULT 'viewer',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE episodes (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    series            text,
    season_number     integer CHECK (season_number >= 0),
    episode_number    integer CHECK (episode_number >= 0),
    title             text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    description       text NOT NULL DEFAULT '' CHECK (char_length(description) <= 20000),
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft','in_review','scheduled','published','archived')),
    air_date          date,
    duration_seconds  integer CHECK (duration_seconds >= 0),
    categories        text[] NOT NULL DEFAULT '{}',
    metadata          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    version           integer NOT NULL DEFAULT 1,
    created_by        text NOT NULL,
    updated_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- English stemming: a newsroom searching "election" expects "elections".
    search            tsvector GENERATED ALWAYS AS (
                          setweight(to_tsvector('english', title), 'A') ||
                          setweight(to_tsvector('english', coalesce(series, '')), 'B') ||
                          setweight(to_tsvector('english', description), 'C')) STORED
);

-- (series, season, episode) is unique when all three are set; NULLs are
-- distinct in a unique index, so a partial index is not even needed.
CREATE UNIQUE INDEX episodes_series_season_episode_key
    ON episodes (series, season_number, episode_number);
CREATE INDEX episodes_updated_at_idx ON episodes (updated_at, id);
CREATE INDEX episodes_title_idx ON episodes (title, id);
CREATE INDEX episodes_air_date_idx ON episodes ((air_date IS NULL), air_date, id);
CREATE INDEX episodes_status_idx ON episodes (status);
CREATE INDEX episodes_created_by_idx ON episodes (created_by);
CREATE INDEX episodes_categories_idx ON episodes USING gin (categories);
CREATE INDEX episodes_search_idx ON episodes USING gin (search);

-- RFC 3339 UTC with milliseconds, as every API timestamp is written.
CREATE FUNCTION eccr_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The API's episode object, built where the data is: the responder copies
-- this text to the client without parsing it again.
CREATE FUNCTION eccr_episode_json(e episodes) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', e.id, 'series', e.series, 'season_number', e.season_number,
        'episode_number', e.episode_number, 'title', e.title,
        'description', e.description, 'status', e.status,
        'air_date', e.air_date, 'duration_seconds', e.duration_seconds,
        'categories', e.categories, 'metadata', e.metadata,
        'version', e.version, 'created_by', e.created_by,
        'updated_by', e.updated_by, 'created_at', eccr_ts(e.created_at),
        'updated_at', eccr_ts(e.updated_at))::text
$$;

-- The outbox: one row per change, written in the change's transaction.
CREATE TABLE events (
    id             bigserial PRIMARY KEY,
    type           text NOT NULL,
    actor_id       text NOT NULL,
    actor_name     text,
    resource_type  text NOT NULL,
    resource_id    text NOT NULL,
    episode_id     uuid,
    data           jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- set once every sink has taken the event (the plugin pipeline)
    delivered_at   timestamptz
);
CREATE INDEX events_undelivered_idx ON events (id) WHERE delivered_at IS NULL;
CREATE INDEX events_resource_idx ON events (resource_type, resource_id);
CREATE INDEX events_episode_idx ON events (episode_id) WHERE episode_id IS NOT NULL;

-- The envelope of API.md "Events", shared by sinks and WebSocket clients.
CREATE FUNCTION eccr_event_envelope(ev events) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', ev.id::text, 'type', ev.type, 'occurred_at', eccr_ts(ev.created_at),
        'actor', CASE WHEN ev.actor_name IS NULL
                      THEN json_build_object('id', ev.actor_id)
                      ELSE json_build_object('id', ev.actor_id, 'name', ev.actor_name) END,
        'resource', json_build_object('type', ev.resource_type, 'id', ev.resource_id),
        'episode_id', ev.episode_id, 'data', ev.data)::text
$$;
