-- 007_refid_method: a third proof method, the reference ID of a stratum-1
-- server's reference clock.
--
-- 'refid' rows carry a four-character code (refid_code) and nothing else:
-- the operator sets it as the refid of the server's refclock (ntpd
-- `fudge 127.127.T.U refid CODE`, NTPsec and chrony `refclock ... refid
-- CODE`), and the prober accepts a plain mode 3 reply that echoes its
-- origin timestamp at stratum 1 with that refid. The code is no secret:
-- every reply of the server shows it. Two new outcomes say why a refid
-- row is not verified: not_stratum1 and refid_mismatch. A new code voids
-- earlier corroborations like a new token or key. See sql/schema.sql.
--
-- Written to be applied again over itself (IF [NOT] EXISTS, OR REPLACE),
-- as 006 is: a schema_version row deleted by hand is put back by
-- `ntpverify migrate` without an error.

ALTER TABLE verification
	ADD COLUMN IF NOT EXISTS refid_code text,
	DROP CONSTRAINT IF EXISTS verification_method_known,
	ADD CONSTRAINT verification_method_known CHECK (
		method IN ('setvar', 'key', 'refid')),
	DROP CONSTRAINT IF EXISTS verification_method_fields,
	ADD CONSTRAINT verification_method_fields CHECK (
		(method = 'setvar' AND token IS NOT NULL AND key_id IS NULL
		 AND key_type IS NULL AND key_secret IS NULL AND refid_code IS NULL)
		OR (method = 'key' AND token IS NULL
		 AND key_id BETWEEN 1 AND 65535
		 AND key_type IN ('AES128', 'SHA1')
		 AND key_secret ~ '^[0-9a-f]+$'
		 AND length(key_secret) = CASE key_type WHEN 'AES128' THEN 32 ELSE 40 END
		 AND refid_code IS NULL)
		OR (method = 'refid' AND token IS NULL AND key_id IS NULL
		 AND key_type IS NULL AND key_secret IS NULL
		 AND refid_code ~ '^[A-Z0-9]{4}$')),
	DROP CONSTRAINT IF EXISTS verification_last_outcome_known,
	ADD CONSTRAINT verification_last_outcome_known CHECK (
		last_outcome IN ('verified', 'token_mismatch', 'variable_missing',
			'mode6_error', 'mode6_silent', 'no_response', 'unreachable',
			'malformed', 'rate_limited', 'refused_by_policy',
			'key_not_accepted', 'send_failed', 'not_stratum1',
			'refid_mismatch'));

ALTER TABLE probe_attempt
	DROP CONSTRAINT IF EXISTS probe_attempt_outcome_known,
	ADD CONSTRAINT probe_attempt_outcome_known CHECK (
		outcome IN ('verified', 'token_mismatch', 'variable_missing',
			'mode6_error', 'mode6_silent', 'no_response', 'unreachable',
			'malformed', 'rate_limited', 'refused_by_policy',
			'key_not_accepted', 'send_failed', 'not_stratum1',
			'refid_mismatch'));

-- A code is handed out once per address, ever: a code that served an
-- earlier verification of the server may still be configured on it, and
-- must not prove a later request (docs/security.md, "The refid method").
-- On the rare unique_violation the web site draws another code.
CREATE UNIQUE INDEX IF NOT EXISTS verification_refid_once
	ON verification (server_ip, refid_code) WHERE refid_code IS NOT NULL;

-- New proof material voids what the perspectives have seen so far; the
-- refid code is proof material too.
CREATE OR REPLACE FUNCTION verification_proof_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.token IS DISTINCT FROM OLD.token
	   OR NEW.method IS DISTINCT FROM OLD.method
	   OR NEW.key_id IS DISTINCT FROM OLD.key_id
	   OR NEW.key_type IS DISTINCT FROM OLD.key_type
	   OR NEW.key_secret IS DISTINCT FROM OLD.key_secret
	   OR NEW.refid_code IS DISTINCT FROM OLD.refid_code THEN
		NEW.proof_version := OLD.proof_version + 1;
	END IF;
	RETURN NEW;
END;
$$;

INSERT INTO schema_version (version, description) VALUES (7, 'refid_method')
	ON CONFLICT DO NOTHING;
