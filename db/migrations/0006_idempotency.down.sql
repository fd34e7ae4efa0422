DROP FUNCTION IF EXISTS eccr_idempotency_release(text, text);
DROP FUNCTION IF EXISTS eccr_idempotency_claim(text, text, integer);
DROP FUNCTION IF EXISTS eccr_idempotency_lock_id(text, text);
DROP TABLE IF EXISTS idempotency_keys;
