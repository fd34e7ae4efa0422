-- The event pipeline: per-sink delivery bookkeeping for events a sink did
-- not take the first time, and the audit trail the activity-pg sink writes.


CREATE TABLE event_deliveries (
    event_id        bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    sink            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('retry', 'dead', 'delivered')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, sink)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at)
    WHERE status = 'retry';
CREATE INDEX event_deliveries_dead ON event_deliveries (updated_at)
    WHERE status = 'dead';

CREATE TABLE activity_logs (
    id            bigserial PRIMARY KEY,
    event_id      bigint UNIQUE,          -- NULL for transient events (views)
    user_id       text NOT NULL,
    action        text NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    episode_id    uuid,
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL
);
CREATE INDEX activity_logs_recent ON activity_logs (created_at DESC, id DESC);
CREATE INDEX activity_logs_user ON activity_logs (user_id, created_at DESC, id DESC);
CREATE INDEX activity_logs_episode ON activity_logs (episode_id, created_at DESC, id DESC)
    WHERE episode_id IS NOT NULL;
CREATE INDEX activity_logs_resource ON activity_logs (resource_type, resource_id);
