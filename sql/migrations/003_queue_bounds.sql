-- 003_queue_bounds: what the web site writes can no longer wedge a row or
-- slow the probers down.
--
-- * attempts is bounded: the prober adds one per attempt and picks the next
--   retry delay from it, so a value near the integer limit (which the web
--   site could write) would overflow the prober's update and leave the row
--   pending forever. Rows already out of range are brought into it first.
-- * Expiry looks for pending rows past expires_at OR older than the
--   prober's retry.expiry; with an index on each side PostgreSQL answers it
--   with two index scans (a BitmapOr) instead of reading every row.

UPDATE verification SET attempts = LEAST(GREATEST(attempts, 0), 1000000)
	WHERE attempts NOT BETWEEN 0 AND 1000000;

ALTER TABLE verification
	ADD CONSTRAINT verification_attempts_range CHECK (
		attempts BETWEEN 0 AND 1000000);

CREATE INDEX verification_pending_created
	ON verification (created_at) WHERE state = 'pending';

INSERT INTO schema_version (version, description) VALUES (3, 'queue_bounds');
