-- 0009: events_resource_idx (resource_type, resource_id) is dropped: no
-- statement of ECCR reads events by resource (the activity trail has its
-- own index for that, activity_logs_resource), and every event row paid
-- for it twice: on insert, and again when the dispatcher marks it
-- delivered (that update is never HOT, since delivered_at is in
-- events_undelivered_idx's predicate).  Measured (docs/performance.md,
-- issue 17): the create statement at 4 clients, base-variant-variant-base
-- twice, +3 % creates/s without it (noise floor of the same runs: 1 %).
DROP INDEX IF EXISTS events_resource_idx;
