-- bench/activity-search.sql - the measurements of docs/performance.md,
-- "Activity search": 1,000,000 synthetic activity rows and EXPLAIN ANALYZE
-- of the search with PostgreSQL's own plan choice and with activity-pg's
-- two steps.  On a scratch database migrated to 0007 (never a real one):
--   createdb scratch && for f in db/migrations/*.up.sql; do psql -d scratch -f $f; done
--   psql -d scratch -f bench/activity-search.sql
\set ON_ERROR_STOP on
\timing off

-- 200 users named from ten first and twenty last names; 40 % episode
-- entries (a common word, a rare "topicN" word, a topical word), 30 % file
-- entries ("take_N.wav"), 30 % job entries (five types); a year of
-- timestamps, stored in time order as an append-only log is.
INSERT INTO activity_logs (event_id, user_id, action, resource_type, resource_id, episode_id,
                           metadata, created_at, actor_name, subject)
SELECT g, 'user-' || u,
  (ARRAY['CREATE','UPDATE','DELETE','DOWNLOAD','START','COMPLETE'])[1 + (g % 6)],
  rt, gen_random_uuid()::text, gen_random_uuid(), '{}'::jsonb,
  now() - (random() * interval '365 days'),
  (ARRAY['Alice','Bob','Carol','Dave','Erin','Frank','Grace','Heidi','Ivan','Judy'])[1 + u % 10]
    || ' ' || (ARRAY['Smith','Jones','Müller','Ünlü','Brown','Taylor','Wilson','Davies','Evans',
    'Thomas','Roberts','Walker','Wright','Green','Hall','Wood','Harris','Martin','Clark',
    'Lewis'])[1 + u % 20],
  CASE rt
    WHEN 'episode' THEN (ARRAY['The','Evening','News','Morning','Show','Weekly','Review','Sports',
      'Desk','Report'])[1 + g % 10] || ' topic' || (hashint4(g) & 65535) || ' ' ||
      (ARRAY['election','budget','weather','football','music','science','health',
      'travel'])[1 + (g / 7) % 8]
    WHEN 'file' THEN 'take_' || (hashint4(g) & 65535) || (ARRAY['.wav','.mp3','.mp4','.png'])[1 + g % 4]
    ELSE (ARRAY['noop','checksum','transcode','loudness','thumbnail'])[1 + g % 5]
  END
FROM (SELECT g, (hashint4(g + 7) & 255) % 200 AS u,
             (ARRAY['episode','episode','episode','episode','file','file','file','job','job',
                    'job'])[1 + (g % 10)] AS rt
      FROM generate_series(1, 1000000) g) s;
CLUSTER activity_logs USING activity_logs_recent;
-- words of known frequency: 500 rows, 5,000 rows, and 50,000 rows all
-- older than half a year (a colleague who left)
UPDATE activity_logs SET subject = subject || ' midword' WHERE id % 2000 = 0;
UPDATE activity_logs SET subject = subject || ' pctword' WHERE id % 200 = 1;
UPDATE activity_logs SET actor_name = 'Olga Oldtimer' WHERE id IN (SELECT id FROM activity_logs
    WHERE created_at < now() - interval '180 days' ORDER BY random() LIMIT 50000);
VACUUM ANALYZE activity_logs;

-- PostgreSQL's choice: a bitmap over the GIN index then a sort, or a walk
-- back over activity_logs_recent filtering each row.
PREPARE planner(text, text) AS
SELECT a.id FROM activity_logs a
WHERE ($2::text IS NULL OR a.user_id = $2) AND a.search @@ websearch_to_tsquery('simple', $1)
ORDER BY a.created_at DESC, a.id DESC LIMIT 51;

-- activity-pg's two steps (plugins/activity-pg/activity-pg.c, SEARCH_SQL).
PREPARE two_steps(text, text) AS
WITH near AS MATERIALIZED (
  SELECT w.id, w.created_at FROM (
    SELECT a.id, a.created_at, a.search FROM activity_logs a
    WHERE ($2::text IS NULL OR a.user_id = $2)
    ORDER BY a.created_at DESC, a.id DESC LIMIT 5000) w
  WHERE w.search @@ websearch_to_tsquery('simple', $1)
  ORDER BY w.created_at DESC, w.id DESC LIMIT 51),
 far AS MATERIALIZED (
  SELECT a.id, a.created_at FROM activity_logs a
  WHERE (SELECT count(*) FROM near) < 51 AND ($2::text IS NULL OR a.user_id = $2)
    AND a.search @@ websearch_to_tsquery('simple', $1))
SELECT id FROM near WHERE (SELECT count(*) FROM near) >= 51
UNION ALL (SELECT id FROM far ORDER BY created_at DESC, id DESC LIMIT 51);

SET plan_cache_mode = force_custom_plan;   -- as activity-pg's PQexecParams
\echo run each twice or three times and read the warm figures
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE planner('topic12345', NULL);
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE two_steps('topic12345', NULL);
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE planner('election', NULL);
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE two_steps('election', NULL);
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE planner('oldtimer', NULL);
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE two_steps('oldtimer', NULL);
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE planner('topic12345', 'user-17');
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE two_steps('topic12345', 'user-17');
