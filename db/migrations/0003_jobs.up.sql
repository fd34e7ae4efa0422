-- 0003_jobs: the job queue eccr-worker runs.

CREATE TABLE jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    episode_id       uuid,   -- no foreign key: the job outlives a deleted episode's row
    type             text NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority         integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -100 AND 100),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 25),
    run_at           timestamptz NOT NULL DEFAULT now(),
    progress         integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    result           jsonb,
    last_error       text,
    cancel_requested boolean NOT NULL DEFAULT false,
    locked_by        text,          -- the worker running it
    locked_until     timestamptz,   -- its lease
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- What a worker claims next: lower priority first, then the oldest run_at.
CREATE INDEX jobs_ready ON jobs (priority, run_at) WHERE status = 'queued';
-- Leases to reclaim when a worker died.
CREATE INDEX jobs_leases ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_recent ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_episode ON jobs (episode_id, created_at DESC) WHERE episode_id IS NOT NULL;

CREATE FUNCTION eccr_job_json(j jobs) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', j.id, 'episode_id', j.episode_id, 'type', j.type, 'payload', j.payload,
        'status', j.status, 'priority', j.priority, 'attempts', j.attempts,
        'max_attempts', j.max_attempts, 'run_at', eccr_ts(j.run_at),
        'progress', j.progress, 'result', j.result, 'last_error', j.last_error,
        'cancel_requested', j.cancel_requested, 'created_by', j.created_by,
        'created_at', eccr_ts(j.created_at), 'started_at', eccr_ts(j.started_at),
        'finished_at', eccr_ts(j.finished_at), 'updated_at', eccr_ts(j.updated_at))::text
$$;

-- Wake the workers (LISTEN eccr_jobs) when a job becomes runnable.
CREATE FUNCTION eccr_jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eccr_jobs', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION eccr_jobs_notify();
