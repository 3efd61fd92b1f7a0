-- 001_initial.sql - the first schema: verifications, probe attempts, the
-- wake-up trigger. See sql/schema.sql for the documented contract; this file
-- must keep giving the same schema as that one (admin_db.sh checks).
--
-- Migrations are applied by `ntpverify migrate` (prober/store/migrate.c), each in
-- its own transaction under an advisory lock. A migration file records
-- itself in schema_version as its last statement. Never edit a migration
-- that has been released: add the next number instead.
--
-- schema_version may already exist: migrate.c creates it (with this very
-- definition) before looking for pending migrations.

CREATE TABLE IF NOT EXISTS schema_version (
	version integer PRIMARY KEY,                      -- migration number
	applied_at timestamptz NOT NULL DEFAULT now(),
	description text NOT NULL                         -- the migration's name
);

CREATE TABLE verification (
	id bigserial PRIMARY KEY,
	-- Written by the web site: the server to verify and its token.
	server_ip inet NOT NULL,
	token text NOT NULL,
	state text NOT NULL DEFAULT 'pending',
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL DEFAULT now() + interval '72 hours',
	-- Probers: when the next attempt is due (the backoff schedule moves it)
	-- and how many attempts were made so far.
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

	-- A host address, not a network: '192.0.2.0/24' is not a server.
	CONSTRAINT verification_server_ip_host CHECK (
		masklen(server_ip) = CASE family(server_ip) WHEN 4 THEN 32 ELSE 128 END),
	CONSTRAINT verification_token_charset CHECK (
		token ~ '^[A-Za-z0-9_-]{8,128}$'),
	CONSTRAINT verification_state_known CHECK (
		state IN ('pending', 'verified', 'expired', 'cancelled')),
	-- The stable outcome names of docs/design.md ("Outcomes").
	CONSTRAINT verification_last_outcome_known CHECK (
		last_outcome IN ('verified', 'token_mismatch', 'variable_missing',
			'mode6_error', 'mode6_silent', 'no_response', 'unreachable',
			'malformed', 'rate_limited', 'refused_by_policy',
			'key_not_accepted')),
	CONSTRAINT verification_verified_at_set CHECK (
		state <> 'verified' OR verified_at IS NOT NULL)
);

-- At most one pending verification per server address; finished rows of
-- the same address are kept as history.
CREATE UNIQUE INDEX verification_one_pending
	ON verification (server_ip) WHERE state = 'pending';

-- The probers' lease query scans pending rows in next_probe_at order.
CREATE INDEX verification_due
	ON verification (next_probe_at) WHERE state = 'pending';

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
			'key_not_accepted'))
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

INSERT INTO schema_version (version, description) VALUES (1, 'initial');
