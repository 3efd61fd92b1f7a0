-- 005_send_failed: a new stable outcome, send_failed: the prober could not
-- send the request at all (no route, its source address missing, out of
-- file descriptors). Recorded as an attempt like any other, so admins see
-- it in `ntpverify show` and in the metrics instead of only in the log.

ALTER TABLE verification
	DROP CONSTRAINT verification_last_outcome_known,
	ADD CONSTRAINT verification_last_outcome_known CHECK (
		last_outcome IN ('verified', 'token_mismatch', 'variable_missing',
			'mode6_error', 'mode6_silent', 'no_response', 'unreachable',
			'malformed', 'rate_limited', 'refused_by_policy',
			'key_not_accepted', 'send_failed'));

ALTER TABLE probe_attempt
	DROP CONSTRAINT probe_attempt_outcome_known,
	ADD CONSTRAINT probe_attempt_outcome_known CHECK (
		outcome IN ('verified', 'token_mismatch', 'variable_missing',
			'mode6_error', 'mode6_silent', 'no_response', 'unreachable',
			'malformed', 'rate_limited', 'refused_by_policy',
			'key_not_accepted', 'send_failed'));

INSERT INTO schema_version (version, description) VALUES (5, 'send_failed');
