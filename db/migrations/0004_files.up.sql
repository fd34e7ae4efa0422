-- 0004_files: stored files of episodes, and the objects waiting to be
-- removed from storage (eccr-worker deletes them and retries until done).

CREATE TABLE files (
    id            uuid PRIMARY KEY,
    episode_id    uuid NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 255),
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    sha256        text,
    status        text NOT NULL CHECK (status IN ('pending', 'ready')),
    storage_key   text NOT NULL UNIQUE,   -- derived from ids only, never from the name
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_episode ON files (episode_id, created_at, id);

CREATE TABLE storage_deletions (
    storage_key     text PRIMARY KEY,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX storage_deletions_due ON storage_deletions (next_attempt_at);

-- When a file row goes (its episode was deleted, or DELETE /files/{id}),
-- its object is queued for removal in the same transaction.
CREATE FUNCTION eccr_files_queue_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO storage_deletions (storage_key) VALUES (OLD.storage_key)
        ON CONFLICT (storage_key) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER files_queue_deletion AFTER DELETE ON files
    FOR EACH ROW EXECUTE FUNCTION eccr_files_queue_deletion();

CREATE FUNCTION eccr_file_json(f files) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', f.id, 'episode_id', f.episode_id, 'name', f.name,
        'content_type', f.content_type, 'size_bytes', f.size_bytes,
        'sha256', f.sha256, 'status', f.status, 'created_by', f.created_by,
        'created_at', eccr_ts(f.created_at))::text
$$;
