-- schema.sql - the ntpverify database: the contract between the pool's web
-- site and the ntpverify probers.
--
-- This file is the complete, current schema in one piece, for reading and
-- for setting up an empty database by hand:
--
--     psql -v ON_ERROR_STOP=1 -d ntpverify -f sql/schema.sql
--
-- The probers create and upgrade the schema themselves from the numbered
-- files in sql/migrations/ (`ntpverify migrate`); both paths must give the
-- same schema, and tests/integration/admin_db.sh compares their
-- `pg_dump --schema-only`. When you add a migration, change this file to
-- match and add its version to the schema_version insert at the end.
--
-- Who writes what
-- ---------------
-- The web site INSERTs a verification with server_ip and token only; every
-- other column has a default. It may later set state = 'cancelled' on a
-- pending row (the operator gave up) and reads the rest to show progress.
-- The probers own every other column and every other state change. The web
-- site never needs to touch the lease columns or probe_attempt.
--
-- To start a verification (parameterised, from the web site's code):
--
--     INSERT INTO verification (server_ip, token) VALUES ($1, $2)
--     RETURNING id;
--
-- or, for the key method (the site generates a random key ID and 16
-- random octets, shown to the operator once):
--
--     INSERT INTO verification (server_ip, method, key_id, key_type, key_secret)
--     VALUES ($1, 'key', $2, 'AES128', $3) RETURNING id;
--
-- A second pending row for the same address is rejected (unique_violation
-- on verification_one_pending): cancel the old one first, or reuse it.
-- The INSERT wakes the probers at once through the trigger below; nothing
-- else is needed. To ask for a new attempt now ("I fixed my ntp.conf"):
--
--     UPDATE verification SET next_probe_at = now()
--     WHERE id = $1 AND state = 'pending';
--
-- Tokens
-- ------
-- The operator puts the token into ntp.conf as `setvar NAME = "TOKEN"`.
-- ntp.conf values cannot contain '"', and '#' starts a comment, so tokens
-- are 8 to 128 characters of A-Z a-z 0-9 _ - (the CHECK below). Use at
-- least 128 random bits, e.g. 32 lowercase hex digits or 22 base64url
-- characters; `ntpverify add` does that. Tokens are secrets until the
-- verification ends: probers never log them.
--
-- States
-- ------
--     pending    waiting for a successful probe; the only state probers act on
--     verified   a prober read the token back; verified_at/verified_by say
--                when, which prober, and from which source address
--     expired    no success before expires_at (72 h by default, like the
--                pool's own pending-token cleanup)
--     cancelled  withdrawn by the web site or an admin (`ntpverify cancel`)
-- verified, expired and cancelled are final.

CREATE TABLE schema_version (
	version integer PRIMARY KEY,                      -- migration number
	applied_at timestamptz NOT NULL DEFAULT now(),
	description text NOT NULL                         -- the migration's name
);

CREATE TABLE verification (
	id bigserial PRIMARY KEY,
	-- Written by the web site: the server to verify and, for the setvar
	-- method, its token (NULL for the key method).
	server_ip inet NOT NULL,
	token text,
	state text NOT NULL DEFAULT 'pending',
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL DEFAULT now() + interval '72 hours',
	-- Probers: when the next attempt is due (the backoff schedule moves it)
	-- and how many attempts were made so far (0..1,000,000, migration 3:
	-- the web site may set it, the prober adds one per attempt and stops
	-- counting at the bound, so no written value can overflow).
	next_probe_at timestamptz NOT NULL DEFAULT now(),
	attempts integer NOT NULL DEFAULT 0,
	-- Probers: the work-queue lease. A prober claims due rows with
	-- FOR UPDATE SKIP LOCKED, sets all three, and writes its result only
	-- while lease_token is still its own; an expired lease (lease_until in
	-- the past) may be taken over by any prober.
	lease_owner text,                                 -- prober name
	lease_token uuid,                                 -- fresh per lease
	lease_until timestamptz,
	-- Probers: the latest attempt (probe_attempt has all of them).
	last_probe_at timestamptz,
	last_outcome text,
	last_detail text,                                 -- for humans; never the token
	-- Probers: set together with state = 'verified'.
	verified_at timestamptz,
	verified_by text,                                 -- e.g. 'prober-1 192.0.2.10'
	-- Written by the web site (migration 2): how the operator proves
	-- control. 'setvar': the token in `setvar NAME = "TOKEN"`, read back
	-- with mode 6. 'key': a symmetric NTP key the operator installs and
	-- trusts (ntpd/NTPsec `keys` + `trustedkey`, chrony `keyfile`); the
	-- prober sends an authenticated mode 3 request and checks the reply's
	-- MAC. key_secret is the key in lower-case hex (32 digits for AES128,
	-- 40 for SHA1): a secret like the token, so grant SELECT on it only to
	-- the web site and the probers, and never show it after verification.
	method text NOT NULL DEFAULT 'setvar',
	key_id integer,                                   -- 1..65535
	key_type text,                                    -- 'AES128' (CMAC, RFC 8573) or 'SHA1'
	key_secret text,

	-- A host address, not a network: '192.0.2.0/24' is not a server.
	CONSTRAINT verification_server_ip_host CHECK (
		masklen(server_ip) = CASE family(server_ip) WHEN 4 THEN 32 ELSE 128 END),
	CONSTRAINT verification_token_charset CHECK (
		token ~ '^[A-Za-z0-9_-]{8,128}$'),
	CONSTRAINT verification_state_known CHECK (
		state IN ('pending', 'verified', 'expired', 'cancelled')),
	-- The stable outcome names of docs/design.md ("Outcomes"); send_failed
	-- since migration 5.
	CONSTRAINT verification_last_outcome_known CHECK (
		last_outcome IN ('verified', 'token_mismatch', 'variable_missing',
			'mode6_error', 'mode6_silent', 'no_response', 'unreachable',
			'malformed', 'rate_limited', 'refused_by_policy',
			'key_not_accepted', 'send_failed')),
	CONSTRAINT verification_verified_at_set CHECK (
		state <> 'verified' OR verified_at IS NOT NULL),
	CONSTRAINT verification_attempts_range CHECK (
		attempts BETWEEN 0 AND 1000000),
	CONSTRAINT verification_method_known CHECK (
		method IN ('setvar', 'key')),
	-- Each method carries exactly its own proof material.
	CONSTRAINT verification_method_fields CHECK (
		(method = 'setvar' AND token IS NOT NULL AND key_id IS NULL
		 AND key_type IS NULL AND key_secret IS NULL)
		OR (method = 'key' AND token IS NULL
		 AND key_id BETWEEN 1 AND 65535
		 AND key_type IN ('AES128', 'SHA1')
		 AND key_secret ~ '^[0-9a-f]+$'
		 AND length(key_secret) = CASE key_type WHEN 'AES128' THEN 32 ELSE 40 END))
);

-- At most one pending verification per server address; finished rows of
-- the same address are kept as history.
CREATE UNIQUE INDEX verification_one_pending
	ON verification (server_ip) WHERE state = 'pending';

-- The probers' lease query scans pending rows in next_probe_at order.
CREATE INDEX verification_due
	ON verification (next_probe_at) WHERE state = 'pending';

-- Expiry runs before leasing: find pending rows past expires_at without
-- reading every pending row (migration 2).
CREATE INDEX verification_expiring
	ON verification (expires_at) WHERE state = 'pending';

-- ... and pending rows older than a prober's retry.expiry: with both
-- indexes the expiry statement's OR is two index scans, not a sequential
-- scan of the table (migration 3).
CREATE INDEX verification_pending_created
	ON verification (created_at) WHERE state = 'pending';

-- One row per attempt, written by the prober with its result: the audit
-- trail an admin reads when an operator says "it doesn't work"
-- (`ntpverify show ID`). Rows go when their verification is deleted.
CREATE TABLE probe_attempt (
	id bigserial PRIMARY KEY,
	verification_id bigint NOT NULL
		REFERENCES verification (id) ON DELETE CASCADE,
	attempted_at timestamptz NOT NULL,
	prober text NOT NULL,                             -- prober_name
	source_address inet,                              -- NULL if nothing was sent
	outcome text NOT NULL,
	detail text,                                      -- never the token
	rtt_ms double precision,                          -- NULL without a reply

	CONSTRAINT probe_attempt_outcome_known CHECK (
		outcome IN ('verified', 'token_mismatch', 'variable_missing',
			'mode6_error', 'mode6_silent', 'no_response', 'unreachable',
			'malformed', 'rate_limited', 'refused_by_policy',
			'key_not_accepted', 'send_failed'))
);

CREATE INDEX probe_attempt_by_verification
	ON probe_attempt (verification_id, attempted_at);

-- Wake the probers when work becomes due.
--
-- Probers LISTEN on the channel 'ntpverify_due' (empty payload) and also
-- poll, because notifications sent while a prober is disconnected are lost.
-- The trigger fires once per statement, not per row: an INSERT of 1000
-- rows sends one notification, and NOTIFY serialises committing
-- transactions, so per-row notifications would be costly. It notifies only
-- when some row written by the statement is pending, due now and not
-- leased: a new row or a retry (next_probe_at = now()) wakes the probers,
-- while the probers' own lease updates (lease_token set) and result writes
-- (next_probe_at moved into the future, or a final state) do not.
CREATE FUNCTION verification_notify_due() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM changed_rows
		   WHERE state = 'pending' AND next_probe_at <= now()
			 AND lease_token IS NULL) THEN
		PERFORM pg_notify('ntpverify_due', '');
	END IF;
	RETURN NULL;
END;
$$;

CREATE TRIGGER verification_due_on_insert
	AFTER INSERT ON verification
	REFERENCING NEW TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION verification_notify_due();

CREATE TRIGGER verification_due_on_update
	AFTER UPDATE ON verification
	REFERENCING NEW TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION verification_notify_due();

-- Every migration this file already contains, so that `ntpverify migrate`
-- on a database created from this file has nothing to do.
INSERT INTO schema_version (version, description) VALUES
	(1, 'initial'),
	(2, 'key_method'),
	(3, 'queue_bounds'),
	(5, 'send_failed');
