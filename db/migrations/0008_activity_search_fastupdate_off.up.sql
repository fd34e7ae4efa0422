-- 0008: the activity search's GIN index is written without a pending list
-- (fastupdate = off).  With one, the insert that finds the list past
-- gin_pending_list_limit merges the whole list into the index itself,
-- synchronously: activity-pg's batch of rows, and the dispatcher waiting
-- on it, stall.  Measured (docs/performance.md, issue 17): pgbench of
-- activity-pg's 256-row INSERT, one client, 15 s, twice each way: with the
-- list 120-138 batches/s, p50 6.4-6.8 ms, max 211-250 ms; without it
-- 129 batches/s, p50 7.3-7.5 ms, max 17-19 ms.  The same throughput, and
-- no stall.  (The episodes' GIN indexes showed no such difference for the
-- create statement, so they keep the default.)  PostgreSQL's manual, "GIN
-- Fast Update Technique", advises this where response time matters.
ALTER INDEX activity_logs_search SET (fastupdate = off);
-- Turning it off does not flush what the list holds.
SELECT gin_clean_pending_list('activity_logs_search'::regclass);
