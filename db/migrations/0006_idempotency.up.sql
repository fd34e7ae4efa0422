-- Retry-safe writes (API.md "Retry-safe writes"): the answer of a POST sent
-- with an Idempotency-Key, kept for server.idempotency_ttl_s so that the
-- same request sent again is answered from here instead of being run twice.
--
-- A row is written by the statement that makes the change, in its
-- transaction, so a change and its stored answer commit together or not at
-- all.  A request that was refused (4xx) or failed leaves no row.

CREATE TABLE idempotency_keys (
    user_id      text NOT NULL,           -- the token's sub: keys are per user
    idem_key     text NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 255),
    request_hash text NOT NULL,           -- SHA-256 (hex) of method, target and body
    status       smallint NOT NULL,
    location     text,                    -- below server.base_path, e.g. episodes/<id>
    etag         text,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, idem_key)
);
-- eccr-worker removes expired answers in batches, oldest first.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- The advisory lock that marks a key's request as in flight, from its
-- look-up until its change commits (or it gives up).  Session locks die
-- with their connection, so a killed eccr-fcgi never leaves a key stuck.
CREATE FUNCTION eccr_idempotency_lock_id(p_user text, p_key text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT hashtextextended(length(p_user) || ':' || p_user || p_key, 1162036050) $$;

-- The look-up, first thing for a request with a key.  state is
--   'busy'    another request with this key is in flight: 409
--   'stored'  an answer is kept (its columns are set): replay it or 422
--   'claimed' neither: this session now holds the key's lock and runs the
--             request; its change statement stores the answer and calls
--             eccr_idempotency_release.
-- The lock is taken before the row is read, each in its own snapshot
-- (PL/pgSQL in READ COMMITTED): a request that held the lock until its
-- commit is therefore always seen with its answer.
CREATE FUNCTION eccr_idempotency_claim(p_user text, p_key text, p_ttl_s integer,
    OUT state text, OUT request_hash text, OUT status smallint, OUT location text,
    OUT etag text, OUT body text)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    lock_id bigint := eccr_idempotency_lock_id(p_user, p_key);
BEGIN
    IF NOT pg_try_advisory_lock(lock_id) THEN
        state := 'busy';
        RETURN;
    END IF;
    SELECT k.request_hash, k.status, k.location, k.etag, k.body
      INTO request_hash, status, location, etag, body
      FROM idempotency_keys k
     WHERE k.user_id = p_user AND k.idem_key = p_key
       AND k.created_at > now() - p_ttl_s * interval '1 second';
    IF FOUND THEN
        PERFORM pg_advisory_unlock(lock_id);
        state := 'stored';
    ELSE
        state := 'claimed';
    END IF;
END $$;

-- Called by the change statement that stored the answer: the session lock
-- becomes a transaction lock, held until COMMIT, so nobody can claim the
-- key between the release and the moment the answer is visible.
CREATE FUNCTION eccr_idempotency_release(p_user text, p_key text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    lock_id bigint := eccr_idempotency_lock_id(p_user, p_key);
BEGIN
    PERFORM pg_advisory_xact_lock(lock_id);
    RETURN pg_advisory_unlock(lock_id);
END $$;
