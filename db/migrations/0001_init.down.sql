DROP FUNCTION IF EXISTS eccr_event_envelope(events);
DROP TABLE IF EXISTS events;
DROP FUNCTION IF EXISTS eccr_episode_json(episodes);
DROP FUNCTION IF EXISTS eccr_ts(timestamptz);
DROP TABLE IF EXISTS episodes;
DROP TABLE IF EXISTS users;
