-- 002_key_method: a second proof method, a symmetric NTP key (mode 3).
--
-- 'setvar' rows carry a token (as before); 'key' rows carry a key ID, a key
-- type and the secret instead: the operator installs the key in the NTP
-- daemon's key file and trusts it, and the prober sends an authenticated
-- client request. See sql/schema.sql for the full contract.

ALTER TABLE verification
	ALTER COLUMN token DROP NOT NULL,
	ADD COLUMN method text NOT NULL DEFAULT 'setvar',
	ADD COLUMN key_id integer,
	ADD COLUMN key_type text,
	ADD COLUMN key_secret text,
	ADD CONSTRAINT verification_method_known CHECK (
		method IN ('setvar', 'key')),
	ADD CONSTRAINT verification_method_fields CHECK (
		(method = 'setvar' AND token IS NOT NULL AND key_id IS NULL
		 AND key_type IS NULL AND key_secret IS NULL)
		OR (method = 'key' AND token IS NULL
		 AND key_id BETWEEN 1 AND 65535
		 AND key_type IN ('AES128', 'SHA1')
		 AND key_secret ~ '^[0-9a-f]+$'
		 AND length(key_secret) = CASE key_type WHEN 'AES128' THEN 32 ELSE 40 END));

-- Expiry runs before leasing: find pending rows past expires_at without
-- reading every pending row.
CREATE INDEX verification_expiring
	ON verification (expires_at) WHERE state = 'pending';

INSERT INTO schema_version (version, description) VALUES (2, 'key_method');
