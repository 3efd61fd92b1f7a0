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
-- pending or awaiting_approval row (the operator gave up) and reads the
-- rest to show progress. A verified, expired or cancelled row is final:
-- only the schema's owner can change its state (migration 13). Only the
-- probers and the owner make a row expired (migration 14): the web site
-- ends a row by cancelling it.
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
-- or, for the refid method (stratum-1 servers with a reference clock;
-- migration 7):
--
--     INSERT INTO verification (server_ip, method, refid_code)
--     VALUES ($1, 'refid', $2) RETURNING id;
--
-- with a fresh code of four random characters of A-Z 0-9 (the CHECK
-- below) that is not a well-known reference ID: the list, and the
-- generator `ntpverify add --method refid` uses, are in
-- prober/core/refid_code.c (it draws from the 31 letters and digits
-- other than 0 O 1 I L, so that nobody misreads a code). The probers
-- record a row whose code is on that list as malformed and never verify
-- it. The same code is never accepted twice for one address (the index
-- verification_refid_once): on unique_violation, draw again.
--
-- INSERT in a READ COMMITTED transaction (PostgreSQL's default): the
-- trigger that gives each perspective its row reads the perspectives as
-- the transaction's snapshot shows them, and under REPEATABLE READ misses
-- one that registered after the transaction began.
--
-- A second open (pending or awaiting_approval) row for the same address is
-- rejected (unique_violation on verification_one_pending): cancel the old
-- one first, or reuse it.
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
--     awaiting_approval
--                an admin linked the row to a neighbour verified by NTP
--                (`ntpverify link`, migration 8); no prober probes it, it
--                does not expire, and only an admin's `approve` (verified)
--                or `reject` (back to pending) moves it on
--     verified   enough perspectives read the token back (or saw the key
--                work, or the code as the refid of a stratum-1 server);
--                verified_at/verified_by say when, which probers, and
--                from which source addresses. Or, when proof is not
--                'ntp', an admin approved an exception: verified_by then
--                starts with 'exception: ' and names the admin
--     expired    no success before expires_at (72 h by default, like the
--                pool's own pending-token cleanup)
--     cancelled  withdrawn by the web site or an admin (`ntpverify cancel`)
-- verified, expired and cancelled are final.
--
-- Exceptions (migration 8)
-- ------------------------
-- For a server no NTP method reaches, an admin may approve it by hand;
-- nothing else makes a row verified without the probers. proof says how a
-- row is proven: 'ntp' (the probers, the quorum), 'indirect' (an admin
-- linked it to a neighbour in the same /24 or /64 that an NTP method
-- verified, then an admin approved) or 'manual' (an admin approved a
-- pending row after an out-of-band check). Every link, approve and reject
-- is a row of verification_exception: who (admin: the name given with
-- --admin, else the database role; db_role: always the role), when, why,
-- and the evidence (the neighbour's id, address, method, verified_at and
-- verified_by as they were). The admin commands call ntpverify_link(),
-- ntpverify_approve() and ntpverify_reject(), which lock the row, check
-- and record in one transaction; a refusal is SQLSTATE NV001 and changes
-- nothing.
--
-- NTP-proven or exception, for the site's page (plain SQL):
--
--     SELECT state, proof, proof <> 'ntp' AS exception, verified_by
--     FROM verification WHERE id = $1;
--
-- and the audit trail of one verification, oldest first:
--
--     SELECT at, action, admin, reason, state_before, state_after,
--            evidence_id, host(evidence_server) AS evidence_server,
--            evidence_method, prefix_length
--     FROM verification_exception WHERE verification_id = $1
--     ORDER BY at, id;
--
-- Perspectives and the quorum (migration 6)
-- ------------------------------------------
-- Each prober belongs to a perspective (a site) in a region; every
-- perspective probes every pending verification, on its own schedule, in
-- its own row of verification_probe. A row becomes verified only when the
-- policy (verification_policy, one row, `ntpverify policy`) is met:
-- `quorum` perspectives corroborate the current token or key, from
-- `min_regions` regions, with at most 1 (2..5 perspectives observing) or
-- 2 (6 or more) contrary observations (docs/security.md defines them).
-- verified_by then lists the corroborating probers and their source
-- addresses, e.g. 'fra1-a 192.0.2.10, nyc1-a 198.51.100.7'. Changing token
-- or key voids earlier corroborations (an UPDATE of them by the owner; the
-- web site's role may not, and cancels the row and inserts a new one);
-- the retry statement above reaches every perspective.
--
-- Reading progress (plain SQL, e.g. "1/2 perspectives agree"):
--
--     SELECT corroborating, quorum, regions, min_regions, contrary
--     FROM verification_progress WHERE verification_id = $1;
--
-- and each perspective's stance (for "seen from Frankfurt: wrong value"):
--
--     SELECT p.perspective, s.region, p.last_outcome, p.last_probe_at,
--            p.confirmations, p.corroborated_at, p.contrary_outcome
--     FROM verification_probe p JOIN perspective s ON s.name = p.perspective
--     JOIN verification v ON v.id = p.verification_id
--     WHERE p.verification_id = $1 AND p.proof_version = v.proof_version
--     ORDER BY p.perspective;
--
-- The addresses every operator must allow (`restrict` lines):
--
--     SELECT DISTINCT host(a) FROM perspective, unnest(source_addresses) a;
--
-- Which perspectives are up (migration 9): each prober process refreshes
-- its row of perspective_prober and its perspective's last_seen every
-- queue.poll_interval, clamped to 10..60 s, so a last_seen more than two
-- minutes old means no prober of that perspective runs (or reaches the
-- database):
--
--     SELECT name, region, last_seen > now() - interval '2 minutes' AS up
--     FROM perspective ORDER BY name;
--
-- A process's source_addresses are the ones it publishes now (replaced at
-- each registration: an address taken out of its configuration is gone
-- when it restarts); a perspective's are those of its processes seen
-- within 7 days, so a prober that no longer runs stays listed for a week.
--
-- The web site needs SELECT on these (docs/admins.md has the GRANTs) and no
-- right to write them: the triggers that create verification_probe rows
-- run as the schema owner. attempts, last_probe_at, last_outcome and
-- last_detail of verification stay the latest attempt of any perspective;
-- its lease columns are no longer set (leases are per perspective).

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
	-- 'refid' (migration 7): refid_code below.
	method text NOT NULL DEFAULT 'setvar',
	key_id integer,                                   -- 1..65535
	key_type text,                                    -- 'AES128' (CMAC, RFC 8573) or 'SHA1'
	key_secret text,
	-- Probers (migration 6): which proof the perspectives' counts belong
	-- to. The trigger verification_proof_on_update bumps it whenever
	-- token, method, key or refid code change, which voids earlier
	-- corroborations.
	proof_version integer NOT NULL DEFAULT 1,
	-- Written by the web site (migration 7), refid method only: the code
	-- the operator sets as the refid of the server's reference clock. Not
	-- a secret (every NTP reply of the server shows it), but unique to
	-- this row.
	refid_code text,
	-- Admins (migration 8): how the row is proven. 'ntp' by the probers
	-- (the quorum above), 'indirect' by an admin's approval of a link to
	-- a neighbour an NTP method verified, 'manual' by an admin's approval
	-- of an out-of-band check (verification_exception says who and why).
	proof text NOT NULL DEFAULT 'ntp',

	-- A host address, not a network: '192.0.2.0/24' is not a server.
	CONSTRAINT verification_server_ip_host CHECK (
		masklen(server_ip) = CASE family(server_ip) WHEN 4 THEN 32 ELSE 128 END),
	-- The same strings as '^[A-Za-z0-9_-]{8,128}$', ~18 times cheaper to
	-- check (a bounded repetition is slow in PostgreSQL's regex engine,
	-- and a CHECK runs on every INSERT and UPDATE; migration 10).
	CONSTRAINT verification_token_charset CHECK (
		length(token) BETWEEN 8 AND 128 AND token !~ '[^A-Za-z0-9_-]'),
	-- awaiting_approval since migration 8.
	CONSTRAINT verification_state_known CHECK (
		state IN ('pending', 'awaiting_approval', 'verified', 'expired',
			  'cancelled')),
	-- The stable outcome names of docs/design.md ("Outcomes"); send_failed
	-- since migration 5, not_stratum1 and refid_mismatch since 7.
	CONSTRAINT verification_last_outcome_known CHECK (
		last_outcome IN ('verified', 'token_mismatch', 'variable_missing',
			'mode6_error', 'mode6_silent', 'no_response', 'unreachable',
			'malformed', 'rate_limited', 'refused_by_policy',
			'key_not_accepted', 'send_failed', 'not_stratum1',
			'refid_mismatch')),
	CONSTRAINT verification_verified_at_set CHECK (
		state <> 'verified' OR verified_at IS NOT NULL),
	CONSTRAINT verification_attempts_range CHECK (
		attempts BETWEEN 0 AND 1000000),
	CONSTRAINT verification_method_known CHECK (
		method IN ('setvar', 'key', 'refid')),
	-- Each method carries exactly its own proof material.
	CONSTRAINT verification_method_fields CHECK (
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
	CONSTRAINT verification_proof_known CHECK (
		proof IN ('ntp', 'indirect', 'manual')),
	-- A pending row is to be proven by NTP, a row awaiting approval by
	-- its link: only the exception functions, which set both, move a row
	-- between the two, never a role that may change state but not proof
	-- (the web site's).
	CONSTRAINT verification_proof_state CHECK (
		CASE state WHEN 'pending' THEN proof = 'ntp'
			   WHEN 'awaiting_approval' THEN proof = 'indirect'
			   ELSE true END)
)
-- Room in each page for the probers' next version of a row, so that their
-- summary UPDATE (no indexed column) is a HOT update (migration 10).
WITH (fillfactor = 50);

-- At most one open (pending or awaiting_approval) verification per server
-- address; finished rows of the same address are kept as history.
CREATE UNIQUE INDEX verification_one_pending
	ON verification (server_ip)
	WHERE state IN ('pending', 'awaiting_approval');

-- The exception counts of the probers' poll (`ntpverify_exception_rows`)
-- read only the few exception rows (migration 8).
CREATE INDEX verification_by_exception
	ON verification (state) WHERE proof <> 'ntp';

-- Expiry runs before leasing: find pending rows past expires_at without
-- reading every pending row (migration 2).
CREATE INDEX verification_expiring
	ON verification (expires_at) WHERE state = 'pending';

-- ... and pending rows older than a prober's retry.expiry: with both
-- indexes the expiry statement's OR is two index scans, not a sequential
-- scan of the table (migration 3).
CREATE INDEX verification_pending_created
	ON verification (created_at) WHERE state = 'pending';

-- A refid code is handed out once per address, ever: a code that served
-- an earlier verification of the server may still be configured on it,
-- and must not prove a later request (migration 7; docs/security.md, "The
-- refid method"). On the rare unique_violation, draw another code.
CREATE UNIQUE INDEX verification_refid_once
	ON verification (server_ip, refid_code) WHERE refid_code IS NOT NULL;

-- One row per attempt, written by the prober with its result: the audit
-- trail an admin reads when an operator says "it doesn't work"
-- (`ntpverify show ID`). Rows go when their verification is deleted.
CREATE TABLE probe_attempt (
	id bigserial PRIMARY KEY,
	-- A verification's id; kept by triggers, not a foreign key (see
	-- "References" below, migration 11).
	verification_id bigint NOT NULL,
	attempted_at timestamptz NOT NULL,
	prober text NOT NULL,                             -- prober_name
	source_address inet,                              -- NULL if nothing was sent
	outcome text NOT NULL,
	detail text,                                      -- never the token
	rtt_ms double precision,                          -- NULL without a reply
	perspective text,                                 -- NULL before migration 6

	CONSTRAINT probe_attempt_outcome_known CHECK (
		outcome IN ('verified', 'token_mismatch', 'variable_missing',
			'mode6_error', 'mode6_silent', 'no_response', 'unreachable',
			'malformed', 'rate_limited', 'refused_by_policy',
			'key_not_accepted', 'send_failed', 'not_stratum1',
			'refid_mismatch'))
);

CREATE INDEX probe_attempt_by_verification
	ON probe_attempt (verification_id, attempted_at);

-- Wake the probers when work becomes due.
--
-- Probers LISTEN on the channel 'ntpverify_due' (empty payload) and also
-- poll, because notifications sent while a prober is disconnected are lost.
-- The INSERT's trigger fires once per statement, not per row: an INSERT
-- of 1000 rows sends one notification, and NOTIFY serialises committing
-- transactions, so per-row notifications would be costly. It notifies only
-- when some row written by the statement is pending, due now and not
-- leased: a new row wakes the probers.
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

-- An update that leaves a row pending, due now and not leased (a retry:
-- next_probe_at = now()) wakes the probers; the probers' own lease updates
-- (lease_token set) and result writes (next_probe_at moved into the
-- future, or a final state) do not. Per row, entered only for such a row
-- (migration 15; a transaction's identical notifications are sent once,
-- at commit): per statement, with a transition table, it made every
-- WRITE copy the 1,000 rows it updated.
CREATE FUNCTION verification_notify_due_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('ntpverify_due', '');
	RETURN NULL;
END;
$$;

CREATE TRIGGER verification_due_on_update
	AFTER UPDATE ON verification
	FOR EACH ROW
	WHEN (NEW.state = 'pending' AND NEW.next_probe_at <= now()
	      AND NEW.lease_token IS NULL)
	EXECUTE FUNCTION verification_notify_due_row();

-- Every perspective a prober ever ran in. source_addresses: the addresses
-- its probes leave from (the addresses an operator must allow), the union
-- of its probers' (perspective_prober) seen within the last 7 days;
-- last_seen: the latest sign of life of any of its probers (migration 9).
CREATE TABLE perspective (
	name text PRIMARY KEY,
	region text NOT NULL,
	source_addresses inet[] NOT NULL DEFAULT '{}',
	registered_at timestamptz NOT NULL DEFAULT now(),
	last_seen timestamptz NOT NULL DEFAULT now(),

	CONSTRAINT perspective_name_charset CHECK (
		name ~ '^[A-Za-z0-9_.-]{1,64}$'),
	CONSTRAINT perspective_region_charset CHECK (
		region ~ '^[A-Za-z0-9_.-]{1,32}$')
);

-- Every prober process of a perspective (by prober_name): the source
-- addresses it publishes now, replaced at each registration, and when it
-- was last seen; a running prober refreshes last_seen every
-- queue.poll_interval, clamped to 10..60 s
-- (migration 9).
CREATE TABLE perspective_prober (
	perspective text NOT NULL
		REFERENCES perspective (name) ON DELETE CASCADE,
	prober text NOT NULL,
	source_addresses inet[] NOT NULL DEFAULT '{}',
	registered_at timestamptz NOT NULL DEFAULT now(),
	last_seen timestamptz NOT NULL DEFAULT now(),

	PRIMARY KEY (perspective, prober),
	CONSTRAINT perspective_prober_name_length CHECK (
		length(prober) BETWEEN 1 AND 64)
);

-- The one policy every prober follows.
CREATE TABLE verification_policy (
	singleton boolean PRIMARY KEY DEFAULT true,
	quorum integer NOT NULL DEFAULT 1,
	min_regions integer NOT NULL DEFAULT 1,
	confirmations integer NOT NULL DEFAULT 2,
	confirmation_gap interval NOT NULL DEFAULT '2 seconds',
	corroboration_window interval NOT NULL DEFAULT '24 hours',

	CONSTRAINT verification_policy_singleton CHECK (singleton),
	CONSTRAINT verification_policy_quorum_range CHECK (
		quorum BETWEEN 1 AND 64),
	CONSTRAINT verification_policy_min_regions_range CHECK (
		min_regions BETWEEN 1 AND 64),
	-- Named to sort after quorum_range: PostgreSQL checks in name order
	-- and reports the first failure, so quorum = 0 names the quorum.
	CONSTRAINT verification_policy_regions_within_quorum CHECK (
		min_regions <= quorum),
	CONSTRAINT verification_policy_confirmations_range CHECK (
		confirmations BETWEEN 1 AND 16),
	CONSTRAINT verification_policy_gap_range CHECK (
		confirmation_gap BETWEEN interval '0' AND interval '1 day'),
	CONSTRAINT verification_policy_window_range CHECK (
		corroboration_window > interval '0'
		AND corroboration_window <= interval '30 days'
		AND confirmation_gap * (confirmations - 1) < corroboration_window),
	-- Plain days and times (migration 14): with months ('1 mon',
	-- '-1 mon +31 days') an interval passed the ranges above and meant
	-- another length each month.
	CONSTRAINT verification_policy_plain_intervals CHECK (
		extract(year FROM confirmation_gap) = 0 AND extract(month FROM confirmation_gap) = 0
		AND extract(day FROM confirmation_gap) >= 0
		AND confirmation_gap - extract(day FROM confirmation_gap) * interval '1 day' >= interval '0'
		AND extract(year FROM corroboration_window) = 0
		AND extract(month FROM corroboration_window) = 0
		AND extract(day FROM corroboration_window) >= 0
		AND corroboration_window - extract(day FROM corroboration_window) * interval '1 day'
			>= interval '0')
);

INSERT INTO verification_policy DEFAULT VALUES;

-- One row per (verification, perspective): that perspective's schedule,
-- lease and stance.
CREATE TABLE verification_probe (
	-- A verification's id and a perspective's name; kept by triggers,
	-- not foreign keys (see "References" below, migration 11).
	verification_id bigint NOT NULL,
	perspective text NOT NULL,
	proof_version integer NOT NULL,
	active boolean NOT NULL DEFAULT true,
	next_probe_at timestamptz NOT NULL DEFAULT now(),
	attempts integer NOT NULL DEFAULT 0,
	lease_owner text,
	lease_token uuid,
	lease_until timestamptz,
	last_probe_at timestamptz,
	last_outcome text,
	last_detail text,
	confirmations integer NOT NULL DEFAULT 0,
	first_confirmed_at timestamptz,
	last_confirmed_at timestamptz,
	confirmed_by text,
	corroborated_at timestamptz,
	contrary_at timestamptz,
	contrary_outcome text,

	PRIMARY KEY (verification_id, perspective),
	CONSTRAINT verification_probe_attempts_range CHECK (
		attempts BETWEEN 0 AND 1000000),
	CONSTRAINT verification_probe_confirmations_range CHECK (
		confirmations BETWEEN 0 AND 1000000)
)
-- Room for the LEASE's next version of a row in its page: it sets only
-- the lease columns, none indexed, so a HOT update (migration 10).
WITH (fillfactor = 50);

-- The LEASE (ntpverify_lease) walks a perspective's due rows in
-- next_probe_at order.
CREATE INDEX verification_probe_due
	ON verification_probe (perspective, next_probe_at) WHERE active;

-- References (migration 11). verification_probe and probe_attempt refer to
-- verification (and verification_probe to perspective) as foreign keys
-- with ON DELETE CASCADE would, kept per statement instead of per row: a
-- foreign key checks each inserted row with a query and a row lock of
-- its own, 60 % of the web site's INSERT and a fifth of the probers'
-- WRITEs (bench/results.md, "Schema 11"). What they guaranteed holds:
--
-- * a statement's new rows refer to existing rows, or it fails as a
--   foreign key would (23503), checked in one query per statement that
--   locks the referenced rows FOR KEY SHARE as a foreign key does, so a
--   concurrent DELETE waits and its cascade sees the new rows (the rows
--   verification_probe_create inserts need neither: they refer to the
--   verifications of the statement that fired it, which no other
--   transaction can see yet, and to perspectives it holds itself;
--   migration 12);
-- * deleting (or truncating) a verification or a perspective deletes
--   its rows here, in a READ COMMITTED transaction (under REPEATABLE
--   READ the cascade's view could miss rows a concurrent registration
--   committed: refused with 40001, where a foreign key's cascade failed
--   with it at that race only);
-- * the key columns of verification_probe and a perspective's name do
--   not change (NV001).
--
-- The check probes the referenced table's primary key once per new row
-- (a nested loop: a transition table has no statistics, and a hash join
-- would read all of verification).
CREATE FUNCTION ntpverify_references_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
DECLARE
	ids bigint[];   -- the verifications the new rows name, each once
	names text[];   -- the perspectives they name (verification_probe)
	held bigint;    -- how many of them exist, locked
	bad text;
BEGIN
	-- The rows verification_probe_create inserts refer to verifications
	-- of the statement that fired it, which exist and which no other
	-- transaction can see, let alone delete, before this one commits;
	-- and to perspectives it holds FOR KEY SHARE itself. It marks its
	-- own INSERT (it resets the setting after that statement, and an
	-- error there undoes it with the transaction; only a trigger's
	-- statement runs at depth 2), and for it the check and its 10,000
	-- row locks per 10,000 rows are skipped (migration 12). Any role can
	-- set the setting, so this relies on no role but the owner being
	-- able to create a trigger of its own here: docs/admins.md revokes
	-- TEMP from PUBLIC, and nothing grants CREATE.
	IF pg_trigger_depth() = 2 AND TG_TABLE_NAME = 'verification_probe'
	   AND current_setting('ntpverify.probe_rows_of_statement', true) = 'on' THEN
		RETURN NULL;
	END IF;
	-- As a foreign key does, each referenced row is locked FOR KEY SHARE
	-- until the end of the transaction, so that a DELETE waits for it
	-- (and its cascade then sees the new rows): without the lock an
	-- INSERT racing a DELETE left an orphan. A row this transaction
	-- already holds (a WRITE's verifications, FOR UPDATE) costs no new
	-- lock.
	SELECT array_agg(DISTINCT n.verification_id) INTO ids FROM new_rows n;
	SELECT count(*) INTO held FROM (SELECT 1 FROM verification v
		WHERE v.id = ANY (ids) FOR KEY SHARE) x;
	IF held < cardinality(ids) THEN
		SELECT format('verification %s', m.id) INTO bad
		FROM unnest(ids) AS m(id)
		WHERE NOT EXISTS (SELECT 1 FROM verification v WHERE v.id = m.id)
		LIMIT 1;
	ELSIF TG_TABLE_NAME = 'verification_probe' THEN
		SELECT array_agg(DISTINCT n.perspective) INTO names FROM new_rows n;
		SELECT count(*) INTO held FROM (SELECT 1 FROM perspective s
			WHERE s.name = ANY (names) FOR KEY SHARE) x;
		IF held < cardinality(names) THEN
			SELECT format('perspective %s', m.name) INTO bad
			FROM unnest(names) AS m(name)
			WHERE NOT EXISTS (SELECT 1 FROM perspective s WHERE s.name = m.name)
			LIMIT 1;
		END IF;
	END IF;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'insert into % refers to a missing row (%)',
			TG_TABLE_NAME, bad USING ERRCODE = 'foreign_key_violation';
	END IF;
	RETURN NULL;
END;
$$;

CREATE TRIGGER verification_probe_references
	AFTER INSERT ON verification_probe
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_check();

CREATE TRIGGER probe_attempt_references
	AFTER INSERT ON probe_attempt
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_check();

-- A perspective's row stays the row of its verification and perspective.
CREATE FUNCTION verification_probe_key_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.verification_id IS DISTINCT FROM OLD.verification_id
	   OR NEW.perspective IS DISTINCT FROM OLD.perspective THEN
		RAISE EXCEPTION 'the key of a verification_probe row may not change'
			USING ERRCODE = 'NV001';
	END IF;
	RETURN NEW;
END;
$$;

CREATE TRIGGER verification_probe_key_on_update
	BEFORE UPDATE OF verification_id, perspective ON verification_probe
	FOR EACH ROW EXECUTE FUNCTION verification_probe_key_fixed();

-- A perspective keeps its name: its rows here name it (a foreign key
-- refused the rename of a perspective with rows).
CREATE FUNCTION perspective_name_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.name IS DISTINCT FROM OLD.name THEN
		RAISE EXCEPTION 'a perspective''s name may not change'
			USING ERRCODE = 'NV001';
	END IF;
	RETURN NEW;
END;
$$;

CREATE TRIGGER perspective_name_on_update
	BEFORE UPDATE OF name ON perspective
	FOR EACH ROW EXECUTE FUNCTION perspective_name_fixed();

-- ON DELETE CASCADE, per statement: the rows of the verifications (or
-- perspectives) a statement deleted, each found through an index (the
-- audit trail is the largest table: deleting one verification must not
-- read all of it). Schema owner's rights: the web site may delete a
-- verification without any right on these tables.
CREATE FUNCTION ntpverify_references_cascade() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
BEGIN
	-- Under REPEATABLE READ or SERIALIZABLE the deletes below would use
	-- the transaction's snapshot and miss rows a concurrent registration
	-- committed meanwhile (a foreign key's cascade fails with 40001 then);
	-- such a delete is refused instead.
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'delete or truncate % in a READ COMMITTED transaction',
			TG_TABLE_NAME
			USING ERRCODE = 'serialization_failure',
			HINT = 'rows referring to it are deleted with it, which needs a fresh view of them';
	END IF;
	IF TG_TABLE_NAME = 'verification' THEN
		IF TG_OP = 'TRUNCATE' THEN
			TRUNCATE verification_probe, probe_attempt;
			RETURN NULL;
		END IF;
		DELETE FROM verification_probe p
		USING gone_rows g WHERE p.verification_id = g.id;
		DELETE FROM probe_attempt a
		USING gone_rows g WHERE a.verification_id = g.id;
	ELSE
		IF TG_OP = 'TRUNCATE' THEN
			TRUNCATE verification_probe;
			RETURN NULL;
		END IF;
		DELETE FROM verification_probe p
		USING gone_rows g WHERE p.perspective = g.name;
	END IF;
	RETURN NULL;
END;
$$;

CREATE TRIGGER verification_references_on_delete
	AFTER DELETE ON verification
	REFERENCING OLD TABLE AS gone_rows
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_cascade();
CREATE TRIGGER verification_references_on_truncate
	AFTER TRUNCATE ON verification
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_cascade();
CREATE TRIGGER perspective_references_on_delete
	AFTER DELETE ON perspective
	REFERENCING OLD TABLE AS gone_rows
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_cascade();
CREATE TRIGGER perspective_references_on_truncate
	AFTER TRUNCATE ON perspective
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_cascade();

-- A new pending verification is work for every registered perspective.
-- This trigger and the next run with the schema owner's rights, so that
-- the web site's role needs no right on verification_probe (with one it
-- could write corroborations). No ON CONFLICT (migration 10): no
-- perspective can have a row for a verification this statement creates
-- (a registration sees it only after the INSERT committed). The
-- perspectives are held against deletion until the INSERT commits, and
-- each starts on a statement's rows at a point of its own (migration 11):
-- the rows in id order, rotated by rank/k of them for the perspective of
-- rank (by name) among k, one microsecond apart, so that each begins on
-- its own k-th of a large INSERT (a single row: no delay); the rows in
-- the order the statement inserted them, which is its ids' order, so
-- they are not sorted first (migration 12). Otherwise all
-- lease the same rows in the same order: the second perspective's WRITEs
-- wait for the first's row locks batch after batch, and it alone takes
-- every quorum decision (bench/results.md, "Schema 11").
-- The lock ("ntpv", 1) that orders a perspective's first registration
-- (exclusive) against the statements that give every perspective a row
-- (shared: the INSERT's trigger, a reject), so that neither misses the
-- other's uncommitted rows (migration 14). Held to the transaction's end.
CREATE FUNCTION ntpverify_perspectives_lock(p_exclusive boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF p_exclusive THEN
		PERFORM pg_advisory_xact_lock(1853124726, 1);
	ELSE
		PERFORM pg_advisory_xact_lock_shared(1853124726, 1);
	END IF;
END;
$$;

CREATE FUNCTION verification_probe_create() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	-- Against a registration at the same time (migration 14): see
	-- ntpverify_register.
	PERFORM ntpverify_perspectives_lock(false);
	PERFORM set_config('ntpverify.probe_rows_of_statement', 'on', true);
	INSERT INTO verification_probe (verification_id, perspective,
					proof_version, next_probe_at)
	SELECT n.id, s.name, n.proof_version,
		n.next_probe_at + ((n.pos + n.cnt - s.rank * n.cnt / s.k) % n.cnt)
			* interval '1 microsecond'
	FROM (SELECT c.id, c.proof_version, c.next_probe_at,
		     row_number() OVER () - 1 AS pos, count(*) OVER () AS cnt
	      FROM changed_rows c WHERE c.state = 'pending') n
	CROSS JOIN (SELECT s1.name, row_number() OVER (ORDER BY s1.name) - 1 AS rank,
			   count(*) OVER () AS k
		    FROM (SELECT s0.name FROM perspective s0 FOR KEY SHARE) s1) s;
	PERFORM set_config('ntpverify.probe_rows_of_statement', '', true);
	RETURN NULL;
END;
$$;

CREATE TRIGGER verification_probe_on_insert
	AFTER INSERT ON verification
	REFERENCING NEW TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION verification_probe_create();

-- New proof material voids what the perspectives have seen so far; the
-- refid code is proof material too (migration 7).
CREATE FUNCTION verification_proof_bump() RETURNS trigger
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

CREATE TRIGGER verification_proof_on_update
	BEFORE UPDATE ON verification
	FOR EACH ROW -- plpgsql is entered only when proof material changed
	WHEN (NEW.token IS DISTINCT FROM OLD.token
	      OR NEW.method IS DISTINCT FROM OLD.method
	      OR NEW.key_id IS DISTINCT FROM OLD.key_id
	      OR NEW.key_type IS DISTINCT FROM OLD.key_type
	      OR NEW.key_secret IS DISTINCT FROM OLD.key_secret
	      OR NEW.refid_code IS DISTINCT FROM OLD.refid_code)
	EXECUTE FUNCTION verification_proof_bump();

-- A verified, expired or cancelled verification stays so (migration 13):
-- no path of the probers or of the exception functions leaves a final
-- state, and the web site, which may UPDATE state to cancel, must not move
-- a finished row back to pending (nothing would probe it again, and the
-- history would be rewritten). The schema's owner (and a superuser) still
-- may, as it may drop the trigger: for repairs by hand.
CREATE FUNCTION verification_state_final() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF pg_has_role(current_user, (SELECT c.relowner FROM pg_class c
				      WHERE c.oid = TG_RELID), 'USAGE') THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'verification % is %, which is final: it cannot become %',
		OLD.id, OLD.state, NEW.state USING ERRCODE = 'NV001';
END;
$$;

CREATE TRIGGER verification_state_final_on_update
	BEFORE UPDATE OF state ON verification
	FOR EACH ROW -- plpgsql is entered only for a change out of a final state
	WHEN (OLD.state IN ('verified', 'expired', 'cancelled')
	      AND NEW.state IS DISTINCT FROM OLD.state)
	EXECUTE FUNCTION verification_state_final();

-- Only the probers (and the owner) make a verification expired (migration
-- 14): expiry is their judgement (expires_at, their retry.expiry), while
-- the web site's right to UPDATE state is a right to cancel. A role may
-- expire a row when it may write the perspectives' rows: docs/admins.md
-- grants the probers UPDATE on verification_probe, the web site nothing
-- there.
CREATE FUNCTION verification_expiry_by_probers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	-- The table of this trigger's schema, whatever the caller's
	-- search_path names.
	IF has_table_privilege(current_user,
			       format('%I.verification_probe', TG_TABLE_SCHEMA),
			       'UPDATE') THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'verification % is %: only the probers make a row expired (cancel it instead)',
		OLD.id, OLD.state USING ERRCODE = 'NV001';
END;
$$;

CREATE TRIGGER verification_expiry_on_update
	BEFORE UPDATE OF state ON verification
	FOR EACH ROW -- plpgsql is entered only for a row becoming expired
	WHEN (NEW.state = 'expired'
	      AND OLD.state NOT IN ('verified', 'expired', 'cancelled'))
	EXECUTE FUNCTION verification_expiry_by_probers();

-- Proof by exception stays with the exception functions, run by an admin
-- (migration 14): no other role (the probers' may UPDATE every column)
-- sets proof, or changes the state of a row proven by exception other
-- than to cancel it, each of which would skip the function's checks and
-- its audit row.
CREATE FUNCTION verification_exception_by_admins() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF pg_has_role(current_user, (SELECT c.relowner FROM pg_class c
				      WHERE c.oid = TG_RELID), 'USAGE') THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'UPDATE' AND NEW.proof IS NOT DISTINCT FROM OLD.proof THEN
		RAISE EXCEPTION 'verification % is % by exception: only the exception functions change its state (cancel it instead)',
			OLD.id, OLD.state USING ERRCODE = 'NV001';
	END IF;
	RAISE EXCEPTION 'verification %: only the exception functions, run by an admin, change how a row is proven',
		NEW.id USING ERRCODE = 'NV001';
END;
$$;

CREATE TRIGGER verification_exception_on_insert
	BEFORE INSERT ON verification
	FOR EACH ROW -- plpgsql is entered only for a row not proven by NTP
	WHEN (NEW.proof <> 'ntp')
	EXECUTE FUNCTION verification_exception_by_admins();

CREATE TRIGGER verification_exception_on_update
	BEFORE UPDATE OF proof, state ON verification
	FOR EACH ROW -- plpgsql is entered only for a change of proof, or of the
		     -- state of an open row proven by exception other than a
		     -- cancel (a finished row: verification_state_final)
	WHEN (NEW.proof IS DISTINCT FROM OLD.proof
	      OR (OLD.proof <> 'ntp' AND NEW.state IS DISTINCT FROM OLD.state
		  AND NEW.state <> 'cancelled'
		  AND OLD.state NOT IN ('verified', 'expired', 'cancelled')))
	EXECUTE FUNCTION verification_exception_by_admins();

-- Keep the perspectives' rows in step with a verification that changed
-- (migration 15: per row, entered only when the WHEN below holds): a row
-- that left pending is no longer work; a retry (next_probe_at set to now()
-- by the web site or an admin: an update that is not a prober's result,
-- which always moves last_probe_at) or new proof material makes it due
-- for every perspective now. A prober's WRITE, which updates every
-- result's verification (its summary of the latest attempt), enters it
-- for none of them: the rows it makes verified it deactivates itself
-- (ntpverify_record_set's fol, while ntpverify.write_follows is on).
CREATE FUNCTION verification_probe_follow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
-- By primary key, never a scan of the table.
SET enable_seqscan = off AS $$
BEGIN
	IF NEW.id <> OLD.id THEN
		RAISE EXCEPTION 'a verification''s id may not change'
			USING ERRCODE = 'NV001';
	END IF;
	-- "active IS DISTINCT FROM false" is "active" (NOT NULL) in a form
	-- that does not match the partial index of active rows, which an
	-- ANALYZE that saw few of them would pick over the primary key.
	IF NEW.state <> 'pending' THEN
		UPDATE verification_probe p SET active = false,
			lease_owner = NULL, lease_token = NULL, lease_until = NULL
		WHERE p.verification_id = NEW.id
		  AND p.active IS DISTINCT FROM false;
	ELSE
		UPDATE verification_probe p
		SET next_probe_at = LEAST(p.next_probe_at, now()),
		    lease_owner = CASE WHEN p.lease_until < now() THEN NULL ELSE p.lease_owner END,
		    lease_token = CASE WHEN p.lease_until < now() THEN NULL ELSE p.lease_token END,
		    lease_until = CASE WHEN p.lease_until < now() THEN NULL ELSE p.lease_until END
		WHERE p.verification_id = NEW.id
		  AND p.active IS DISTINCT FROM false;
	END IF;
	RETURN NULL;
END;
$$;

-- An unset ntpverify.write_follows (NULL) fires the trigger: only a
-- statement that says it deactivates the rows it verifies skips them.
CREATE TRIGGER verification_probe_on_update
	AFTER UPDATE ON verification
	FOR EACH ROW
	WHEN (NEW.id <> OLD.id
	      OR (OLD.state = 'pending' AND NEW.state <> 'pending'
		  AND (NEW.state <> 'verified'
		       OR current_setting('ntpverify.write_follows', true)
			  IS DISTINCT FROM 'on'))
	      OR (NEW.state = 'pending'
		  AND (NEW.proof_version <> OLD.proof_version
		       OR (NEW.next_probe_at <= now()
			   AND NEW.last_probe_at IS NOT DISTINCT FROM OLD.last_probe_at))))
	EXECUTE FUNCTION verification_probe_follow();

-- Quorum progress per verification, for the probers' decision, the admin
-- commands and the web site. Only the perspectives' rows of the current
-- proof count, and only within the corroboration window.
CREATE VIEW verification_progress AS
SELECT v.id AS verification_id,
	count(p.perspective) FILTER (WHERE p.corroborated_at IS NOT NULL
		AND p.last_confirmed_at > now() - pol.corroboration_window) AS corroborating,
	count(DISTINCT s.region) FILTER (WHERE p.corroborated_at IS NOT NULL
		AND p.last_confirmed_at > now() - pol.corroboration_window) AS regions,
	count(p.perspective) FILTER (WHERE p.contrary_at > now() - pol.corroboration_window) AS contrary,
	count(p.perspective) FILTER (WHERE p.last_probe_at > now() - pol.corroboration_window) AS observing,
	string_agg(p.confirmed_by, ', ' ORDER BY p.perspective)
		FILTER (WHERE p.corroborated_at IS NOT NULL
			AND p.last_confirmed_at > now() - pol.corroboration_window) AS corroborated_by,
	pol.quorum,
	pol.min_regions
FROM verification v
CROSS JOIN verification_policy pol
LEFT JOIN verification_probe p
	ON p.verification_id = v.id AND p.proof_version = v.proof_version
LEFT JOIN perspective s ON s.name = p.perspective
GROUP BY v.id, pol.quorum, pol.min_regions, pol.corroboration_window;

-- Contrary observations tolerated (CA/B Forum BR 3.2.2.9): none while
-- fewer than two perspectives observed the row, one for 2..5, two for 6+.
CREATE FUNCTION verification_contrary_allowed(observing bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN observing < 2 THEN 0 WHEN observing <= 5 THEN 1 ELSE 2 END::bigint
$$;

-- A prober process is alive: record it, the addresses it publishes now
-- (replacing what it published before) and the time; recompute its
-- perspective's addresses from the processes seen within 7 days.
CREATE FUNCTION ntpverify_seen(p_name text, p_region text,
			       p_sources inet[], p_prober text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO perspective AS s (name, region)
	VALUES (p_name, p_region)
	ON CONFLICT (name) DO UPDATE SET region = EXCLUDED.region,
		last_seen = now();
	INSERT INTO perspective_prober AS x (perspective, prober,
					     source_addresses)
	VALUES (p_name, p_prober, p_sources)
	ON CONFLICT (perspective, prober) DO UPDATE
		SET source_addresses = EXCLUDED.source_addresses,
		    last_seen = now();
	UPDATE perspective s SET source_addresses = ARRAY(
		SELECT DISTINCT a FROM perspective_prober x,
			unnest(x.source_addresses) a
		WHERE x.perspective = p_name
		  AND x.last_seen > now() - interval '7 days'
		ORDER BY a)
	WHERE s.name = p_name;
END;
$$;

-- A prober registers at start-up and after each reconnect; every pending
-- verification becomes work for its perspective. The verifications it
-- gives rows to are locked FOR KEY SHARE in id order (migration 11), like
-- a WRITE's; a re-registration locks nothing that has its row.
CREATE FUNCTION ntpverify_register(p_name text, p_region text,
				   p_sources inet[], p_prober text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	fresh boolean := NOT EXISTS (SELECT 1 FROM perspective s
				     WHERE s.name = p_name);
BEGIN
	PERFORM ntpverify_seen(p_name, p_region, p_sources, p_prober);
	-- A perspective new to the database: after an INSERT still open
	-- has committed, and before a later one reads the perspectives, so
	-- that the statement below sees the one's rows and the other this
	-- perspective (migration 14; each used to miss the other's
	-- uncommitted rows, and the perspective never probed them before
	-- its prober reconnected). A perspective already there is in every
	-- later statement's view, and waits for nobody.
	IF fresh THEN
		PERFORM ntpverify_perspectives_lock(true);
	END IF;
	INSERT INTO verification_probe (verification_id, perspective,
					proof_version, next_probe_at)
	SELECT v.id, p_name, v.proof_version, v.next_probe_at
	FROM verification v WHERE v.state = 'pending'
	  AND NOT EXISTS (SELECT 1 FROM verification_probe p
			  WHERE p.verification_id = v.id AND p.perspective = p_name)
	ORDER BY v.id
	FOR KEY SHARE OF v
	ON CONFLICT DO NOTHING;
END;
$$;

-- Migration 6's registration, without a prober name (older scripts, by
-- hand): recorded as a process named after the perspective.
CREATE FUNCTION ntpverify_register(p_name text, p_region text,
				   p_sources inet[]) RETURNS void
LANGUAGE sql AS $$
	SELECT ntpverify_register(p_name, p_region, p_sources, p_name)
$$;

-- The running prober's periodic sign of life. A perspective row deleted
-- meanwhile (and with it its work) is registered again in full.
CREATE FUNCTION ntpverify_heartbeat(p_name text, p_region text,
				    p_sources inet[], p_prober text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM perspective s WHERE s.name = p_name) THEN
		PERFORM ntpverify_seen(p_name, p_region, p_sources, p_prober);
	ELSE
		PERFORM ntpverify_register(p_name, p_region, p_sources, p_prober);
	END IF;
END;
$$;

-- The quorum decision for one pending, locked verification: verified when
-- enough perspectives corroborate the current proof. Returns the new state.
CREATE FUNCTION ntpverify_decide(p_id bigint, p_at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	g verification_progress;
BEGIN
	SELECT * INTO g FROM verification_progress WHERE verification_id = p_id;
	IF g.corroborating >= g.quorum AND g.regions >= g.min_regions
	   AND g.contrary <= verification_contrary_allowed(g.observing) THEN
		UPDATE verification SET state = 'verified', verified_at = p_at,
			verified_by = g.corroborated_by,
			lease_owner = NULL, lease_token = NULL, lease_until = NULL
		WHERE id = p_id AND state = 'pending';
		RETURN 'verified';
	END IF;
	RETURN 'pending';
END;
$$;

-- One perspective's view of one result: the stance rules of
-- docs/security.md ("Corroboration"). p is the perspective's row, locked.
CREATE FUNCTION ntpverify_stance(p verification_probe, v verification,
				 pol verification_policy, p_outcome text,
				 p_contrary boolean, p_version integer,
				 p_at timestamptz, p_by text)
RETURNS verification_probe
LANGUAGE plpgsql AS $$
BEGIN
	-- Counts of an older proof, or too old to count, start over.
	IF p.proof_version <> v.proof_version
	   OR p.last_confirmed_at < now() - pol.corroboration_window THEN
		p.proof_version := v.proof_version;
		p.confirmations := 0;
		p.first_confirmed_at := NULL;
		p.last_confirmed_at := NULL;
		p.confirmed_by := NULL;
		p.corroborated_at := NULL;
		p.contrary_at := NULL;
		p.contrary_outcome := NULL;
	END IF;
	IF p_version IS DISTINCT FROM v.proof_version THEN
		RETURN p; -- probed with the old proof: an attempt, nothing more
	END IF;
	IF p_outcome = 'verified' THEN
		p.contrary_at := NULL;
		p.contrary_outcome := NULL;
		-- Within the gap it is the same confirmation again.
		IF p.last_confirmed_at IS NULL
		   OR p_at - p.last_confirmed_at >= pol.confirmation_gap THEN
			p.confirmations := LEAST(p.confirmations + 1, 1000000);
			p.first_confirmed_at := COALESCE(p.first_confirmed_at, p_at);
			p.last_confirmed_at := p_at;
			p.confirmed_by := p_by;
		END IF;
		IF p.confirmations >= pol.confirmations THEN
			p.corroborated_at := COALESCE(p.corroborated_at, p_at);
		END IF;
	ELSIF p_contrary THEN
		p.confirmations := 0;
		p.first_confirmed_at := NULL;
		p.last_confirmed_at := NULL;
		p.confirmed_by := NULL;
		p.corroborated_at := NULL;
		p.contrary_at := p_at;
		p.contrary_outcome := p_outcome;
	END IF;
	RETURN p;
END;
$$;

-- The probers' WRITE (ntpverify_record and ntpverify_record_each below):
-- a batch of results of one perspective, applied and decided atomically. Rows are locked in id order first, so perspectives
-- writing at the same moment serialise per row (and never deadlock), and
-- each decision sees every corroboration committed before it. A result
-- applies while the row is pending and the lease is still ours; a verified
-- result also without the lease, once (attempted_at after the row's last
-- attempt). A NULL outcome gives the lease back unprobed. p_audit false:
-- no probe_attempt row and no summary update (a result whose audit row the
-- database rejected). Returns one row per applied result: the row's state
-- after the decision, verified_by, when our perspective probes it next
-- (seconds), whether this result made our perspective corroborate, and
-- whether a decision was taken (false for a lease given back).
--
-- The probers' WRITE one result at a time: migration 6's loop, with the
-- verification rows written once per batch after it (an UPDATE of
-- verification costs 0.2-0.3 ms, once per result that capped two
-- perspectives at under 1,000 verifications a second). Rows are locked in
-- id order first; the loop applies each result to our perspective's row
-- and takes the quorum decision, so each decision sees every
-- corroboration committed before it and every earlier result of the
-- batch; the summary columns, the audit rows and the transitions to
-- verified follow in three statements. ntpverify_record() uses it for
-- small batches and for a batch in which a row appears twice (re-leased
-- by the same prober before its first result was written), where the
-- results must apply in order.
CREATE FUNCTION ntpverify_record_each(p_perspective text, p_prober text,
	p_audit boolean, r_id bigint[], r_lease uuid[], r_outcome text[],
	r_detail text[], r_source inet[], r_rtt float8[], r_at float8[],
	r_retry float8[], r_contrary boolean[], r_version integer[])
RETURNS TABLE (id bigint, server text, state text, verified_by text,
	       next_in float8, corroborated boolean, decided boolean)
LANGUAGE plpgsql AS $$
DECLARE
	pol verification_policy;
	r record;
	v verification;
	p verification_probe;
	g verification_progress;
	t timestamptz;
	nxt timestamptz;
	k integer := 0;          -- results applied with an outcome
	a_ord integer[] := '{}'; -- their positions in the r_ arrays
	a_at timestamptz[] := '{}';
	d_id bigint[] := '{}';   -- rows this batch made verified
	d_at timestamptz[] := '{}';
	d_by text[] := '{}';
BEGIN
	SELECT * INTO pol FROM verification_policy;
	PERFORM 1 FROM verification x WHERE x.id = ANY (r_id)
		ORDER BY x.id FOR UPDATE;
	FOR r IN SELECT * FROM unnest(r_id, r_lease, r_outcome, r_detail,
		r_source, r_rtt, r_at, r_retry, r_contrary, r_version)
		WITH ORDINALITY
		AS u(id, lease, outcome, detail, source, rtt, at, retry,
		     contrary, version, ord)
	LOOP
		CONTINUE WHEN r.id = ANY (d_id); -- verified a moment ago
		SELECT * INTO v FROM verification x WHERE x.id = r.id;
		CONTINUE WHEN NOT FOUND OR v.state <> 'pending';
		SELECT * INTO p FROM verification_probe x
		WHERE x.verification_id = r.id AND x.perspective = p_perspective
		FOR UPDATE;
		CONTINUE WHEN NOT FOUND;
		t := to_timestamp(r.at);
		IF p.lease_token IS DISTINCT FROM r.lease THEN
			CONTINUE WHEN r.outcome IS DISTINCT FROM 'verified'
				OR p.last_probe_at >= t;
		END IF;
		IF r.outcome IS NULL THEN
			UPDATE verification_probe x SET lease_owner = NULL,
				lease_token = NULL, lease_until = NULL,
				next_probe_at = now() + r.retry * interval '1 second'
			WHERE x.verification_id = r.id AND x.perspective = p_perspective;
			id := r.id; server := host(v.server_ip); state := v.state;
			verified_by := NULL; next_in := r.retry;
			corroborated := false; decided := false;
			RETURN NEXT;
			CONTINUE;
		END IF;
		p := ntpverify_stance(p, v, pol, r.outcome, r.contrary,
				      r.version, t, p_prober || ' ' || host(r.source));
		nxt := now() + CASE WHEN r.outcome = 'verified'
				AND p.corroborated_at IS NULL
			THEN pol.confirmation_gap
			ELSE r.retry * interval '1 second' END;
		UPDATE verification_probe x SET proof_version = p.proof_version,
			next_probe_at = nxt,
			attempts = LEAST(x.attempts + 1, 1000000),
			lease_owner = NULL, lease_token = NULL, lease_until = NULL,
			last_probe_at = t, last_outcome = r.outcome,
			last_detail = CASE WHEN p_audit THEN r.detail ELSE x.last_detail END,
			confirmations = p.confirmations,
			first_confirmed_at = p.first_confirmed_at,
			last_confirmed_at = p.last_confirmed_at,
			confirmed_by = p.confirmed_by,
			corroborated_at = p.corroborated_at,
			contrary_at = p.contrary_at,
			contrary_outcome = p.contrary_outcome
		WHERE x.verification_id = r.id AND x.perspective = p_perspective;
		k := k + 1;
		a_ord[k] := r.ord;
		a_at[k] := t;
		-- The decision (ntpverify_decide's rule), applied after the loop.
		SELECT * INTO g FROM verification_progress x
		WHERE x.verification_id = r.id;
		id := r.id; server := host(v.server_ip);
		IF g.corroborating >= g.quorum AND g.regions >= g.min_regions
		   AND g.contrary <= verification_contrary_allowed(g.observing) THEN
			d_id := d_id || r.id;
			d_at := d_at || t;
			d_by := d_by || g.corroborated_by;
			state := 'verified';
			verified_by := g.corroborated_by;
		ELSE
			state := 'pending';
			verified_by := v.verified_by;
		END IF;
		next_in := extract(epoch FROM nxt - now());
		-- This result made the perspective corroborate (not before).
		corroborated := p.corroborated_at IS NOT NULL
			AND p.corroborated_at = t;
		decided := true;
		RETURN NEXT;
	END LOOP;
	IF p_audit AND k > 0 THEN
		-- The latest attempt of any perspective, as before; a row twice
		-- in the batch counts both attempts and keeps the later one.
		UPDATE verification x SET
			attempts = LEAST(x.attempts::bigint + u.n, 1000000),
			last_probe_at = u.at, last_outcome = r_outcome[u.ord],
			last_detail = r_detail[u.ord],
			next_probe_at = now() + r_retry[u.ord] * interval '1 second'
		FROM (SELECT DISTINCT ON (r_id[o]) r_id[o] AS id, o AS ord, a AS at,
			     count(*) OVER (PARTITION BY r_id[o]) AS n
		      FROM unnest(a_ord, a_at) AS w(o, a)
		      ORDER BY r_id[o], o DESC) u
		WHERE x.id = u.id;
		INSERT INTO probe_attempt (verification_id, attempted_at,
			prober, source_address, outcome, detail, rtt_ms,
			perspective)
		SELECT r_id[o], a, p_prober, r_source[o], r_outcome[o],
			r_detail[o], r_rtt[o], p_perspective
		FROM unnest(a_ord, a_at) WITH ORDINALITY AS w(o, a, n)
		ORDER BY n;
	END IF;
	UPDATE verification x SET state = 'verified', verified_at = u.at,
		verified_by = u.by,
		lease_owner = NULL, lease_token = NULL, lease_until = NULL
	FROM unnest(d_id, d_at, d_by) AS u(id, at, by)
	WHERE x.id = u.id AND x.state = 'pending';
END;
$$;

-- The probers' LEASE (store_sql_lease, migration 10): claim at most p_limit of our
-- perspective's due rows, skipping rows another prober of the same
-- perspective holds, for p_lease_ms; only rows still pending, before the
-- web site's expires_at and younger than the prober's retry.expiry
-- (p_expiry_ms). The verification's conditions are a per-row subquery
-- and sorting is off, so the only plan reads verification_probe_due in
-- next_probe_at order and stops after p_limit rows. (Migration 11 tried
-- them as a LATERAL join: after an ANALYZE that saw no pending row it
-- walked far more of the index, 1 s per LEASE; bench/results.md.)
-- Nested loops only (migration 12): on statistics that saw few rows the
-- planner hashed all of verification, history included, for each LEASE.
CREATE FUNCTION ntpverify_lease(p_limit integer, p_prober text,
	p_lease_ms float8, p_expiry_ms float8, p_perspective text)
RETURNS TABLE (id bigint, server text, token text, attempts integer,
	       lease_token text, method text, key_id integer, key_type text,
	       key_secret text, proof_version integer, refid_code text)
LANGUAGE sql SET enable_sort = off SET enable_hashjoin = off
SET enable_mergejoin = off AS $$
	WITH due AS (
		SELECT p.verification_id FROM verification_probe p
		WHERE p.perspective = p_perspective AND p.active
		  AND p.next_probe_at <= now()
		  AND (p.lease_until IS NULL OR p.lease_until < now())
		  AND (SELECT v.state = 'pending' AND v.expires_at > now()
			AND v.created_at > now() - p_expiry_ms * interval '1 millisecond'
		       FROM verification v WHERE v.id = p.verification_id)
		ORDER BY p.next_probe_at
		LIMIT p_limit
		FOR UPDATE OF p SKIP LOCKED)
	UPDATE verification_probe p
	SET lease_owner = p_prober, lease_token = gen_random_uuid(),
	    lease_until = now() + p_lease_ms * interval '1 millisecond'
	FROM due, verification v
	-- By key, not by the ctid the CTE saw: a row another statement
	-- updated between this one's snapshot and its lock (a retry) is
	-- locked in its newer version, which that ctid is not.
	WHERE p.verification_id = due.verification_id
	  AND p.perspective = p_perspective AND v.id = p.verification_id
	RETURNING v.id, host(v.server_ip), v.token, p.attempts,
		  p.lease_token::text, v.method, v.key_id, v.key_type,
		  v.key_secret, v.proof_version, v.refid_code
$$;

-- The probers' WRITE set-based: a batch of results of one perspective,
-- applied and decided atomically by the rules of migration 6's
-- ntpverify_record (sql/schema.sql describes them, docs/security.md the
-- stance), one statement per step for the whole batch instead of six per
-- result. No row may appear twice in the batch. The decision is taken in
-- the statement that writes our perspective's rows (migration 10), so a
-- row it makes verified has our row written once, inactive.
CREATE FUNCTION ntpverify_record_set(p_perspective text, p_prober text,
	p_audit boolean, r_id bigint[], r_lease uuid[], r_outcome text[],
	r_detail text[], r_source inet[], r_rtt float8[], r_at float8[],
	r_retry float8[], r_contrary boolean[], r_version integer[])
RETURNS TABLE (id bigint, server text, state text, verified_by text,
	       next_in float8, corroborated boolean, decided boolean)
-- Never JIT: on a fresh table the planner's row estimates for a batch of
-- 1,000 can pass jit_above_cost, and compiling took ~0.5 s of a ~0.1 s
-- statement (bench/results.md). No bitmap scans: every lookup is by key,
-- of one or a few rows, and a bitmap built for each cost a sixth of the
-- statement (migration 11).
-- Nested loops only: every join is a lookup by key, and an estimate of
-- the batch or a CTE's rows must not turn one into a hash join over a
-- whole table (migration 11).
LANGUAGE plpgsql SET jit = off SET enable_bitmapscan = off
SET enable_hashjoin = off SET enable_mergejoin = off
-- One plan for every call (migration 15): its statements were planned
-- again on each WRITE, for a plan that is the same whatever the batch
-- (every lookup by key): 2.4 % of the database's work in a round.
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
	pol verification_policy;
BEGIN
	SELECT * INTO pol FROM verification_policy;
	-- Lock in id order: the verification rows, then our perspective's
	-- (a LEASE of another prober of ours may hold one a moment); the
	-- statement below then sees what was committed before. Two
	-- statements, each one index scan: as a join the planner read a
	-- whole table for each row of the batch when statistics were few.
	-- The UPDATEs below find these rows by the version the statement's
	-- lookup saw (vrow, prow): correct only because both are locked
	-- here first, so that the version seen is the latest and no other
	-- transaction can replace it (an UPDATE by ctid does not follow an
	-- update chain).
	PERFORM 1 FROM verification x WHERE x.id = ANY (r_id)
		ORDER BY x.id FOR UPDATE;
	PERFORM 1 FROM verification_probe x WHERE x.verification_id = ANY (r_id)
		AND x.perspective = p_perspective
		ORDER BY x.verification_id FOR UPDATE;
	-- One statement: our perspective's rows (a NULL outcome gives the
	-- lease back, any other outcome is applied by the stance rules,
	-- ntpverify_stance), then from what it returns the summary and the
	-- transition of verification and the audit rows, and the results
	-- (migration 11: no arrays in between, each a sort).
	-- The rows this statement makes verified have every perspective's
	-- row deactivated by the statement itself (fol below, migration 15):
	-- verification_probe_follow's trigger skips them while this is on.
	PERFORM set_config('ntpverify.write_follows', 'on', true);
	RETURN QUERY
	WITH u AS (
		SELECT u0.*, ord0::integer AS ord FROM unnest(r_id, r_lease, r_outcome, r_retry,
			r_contrary, r_version, r_at, r_source, r_detail, r_rtt) WITH ORDINALITY
			AS u0(id, lease, outcome, retry, contrary, version, at,
			     source, detail, rtt, ord0)),
	-- The batch drives: LATERAL with OFFSET 0 is never flattened, so
	-- each result finds its rows by primary key whatever the statistics
	-- say (after an ANALYZE that saw no pending row, a plain join began
	-- at verification, "1 row", and rescanned the batch for each of the
	-- 10,000 pending: 9 s for a WRITE of 1,000, bench/results.md run M).
	-- No condition on a lookup but its key, so no partial index
	-- ("pending rows", "active rows") looks cheaper than the key.
	j AS (
		SELECT u.*, to_timestamp(u.at) AS t, v.*, p.*
		FROM u
		CROSS JOIN LATERAL (
			SELECT host(v0.server_ip) AS server, v0.state AS vstate,
				v0.verified_by AS vby, v0.proof_version AS vpv,
				v0.ctid AS vrow
			FROM verification v0
			WHERE v0.id = u.id
			OFFSET 0) v
		CROSS JOIN LATERAL (
			SELECT p0.proof_version AS ppv, p0.confirmations AS pconf,
				p0.first_confirmed_at AS pfirst,
				p0.last_confirmed_at AS plast,
				p0.confirmed_by AS pby, p0.corroborated_at AS pcorr,
				p0.contrary_at AS pcon_at,
				p0.contrary_outcome AS pcon_out,
				p0.lease_token AS plt, p0.last_probe_at AS plp,
				p0.ctid AS prow
			FROM verification_probe p0
			WHERE p0.verification_id = u.id
			  AND p0.perspective = p_perspective
			OFFSET 0) p
		WHERE v.vstate = 'pending'
		  AND (p.plt IS NOT DISTINCT FROM u.lease
		       OR (u.outcome = 'verified'
			   AND (p.plp IS NULL OR p.plp < to_timestamp(u.at))))),
	-- Each step below computes its columns once per row (OFFSET 0:
	-- not flattened into the next). Flattened, every use of a column
	-- repeated the expressions behind it (a CASE over a CASE over a
	-- CASE): a quarter of the statement (migration 11).
	b AS ( -- counts of an older proof, or too old, start over
		SELECT j.*, j.ppv <> j.vpv
			OR j.plast < now() - pol.corroboration_window AS reset
		FROM j OFFSET 0),
	c AS (
		SELECT b.*,
			CASE WHEN reset THEN 0 ELSE pconf END AS bconf,
			CASE WHEN reset THEN NULL ELSE pfirst END AS bfirst,
			CASE WHEN reset THEN NULL ELSE plast END AS blast,
			CASE WHEN reset THEN NULL ELSE pby END AS bby,
			CASE WHEN reset THEN NULL ELSE pcorr END AS bcorr,
			CASE WHEN reset THEN NULL ELSE pcon_at END AS bcon_at,
			CASE WHEN reset THEN NULL ELSE pcon_out END AS bcon_out,
			-- probed with the current proof: more than an attempt
			b.version IS NOT DISTINCT FROM b.vpv AS cur
		FROM b OFFSET 0),
	s AS ( -- the stance after this result
		SELECT c.*,
			CASE WHEN cur AND outcome = 'verified' THEN 'v'
			     WHEN cur AND contrary THEN 'c' ELSE '-' END AS kind,
			cur AND outcome = 'verified'
			AND (blast IS NULL OR t - blast >= pol.confirmation_gap) AS counts
		FROM c OFFSET 0),
	n AS (
		SELECT s.*,
			CASE WHEN counts THEN LEAST(bconf + 1, 1000000)
			     WHEN kind = 'c' THEN 0 ELSE bconf END AS nconf,
			CASE WHEN counts THEN COALESCE(bfirst, t)
			     WHEN kind = 'c' THEN NULL ELSE bfirst END AS nfirst,
			CASE WHEN counts THEN t
			     WHEN kind = 'c' THEN NULL ELSE blast END AS nlast,
			CASE WHEN counts THEN p_prober || ' ' || host(source)
			     WHEN kind = 'c' THEN NULL ELSE bby END AS nby,
			CASE WHEN kind = 'v' THEN NULL
			     WHEN kind = 'c' THEN t ELSE bcon_at END AS ncon_at,
			CASE WHEN kind = 'v' THEN NULL
			     WHEN kind = 'c' THEN outcome ELSE bcon_out END AS ncon_out
		FROM s OFFSET 0),
	f AS (
		SELECT n.*,
			CASE WHEN kind = 'v' AND nconf >= pol.confirmations
			     THEN COALESCE(bcorr, t)
			     WHEN kind = 'c' THEN NULL ELSE bcorr END AS ncorr
		FROM n OFFSET 0),
	g AS (
		SELECT f.*, now() + CASE
			WHEN outcome = 'verified' AND ncorr IS NULL
			THEN pol.confirmation_gap
			ELSE retry * interval '1 second' END AS nxt
		FROM f OFFSET 0),
	-- The quorum decision (ntpverify_decide's rule, over the rows
	-- verification_progress would count) for the rows with a result:
	-- the other perspectives' rows of the current proof as committed
	-- (their writes wait for our locks on verification), and ours as
	-- this result leaves it. Per row through the primary key of
	-- verification_probe: the view would group every verification
	-- before filtering. The regions and the list of corroborating
	-- probers (each a sort) only for a row with enough corroborations
	-- and few enough contrary ones (migration 11).
	-- Only the columns the UPDATE below uses, and not flattened into it
	-- (OFFSET 0): its FROM item is copied whole for each row it updates
	-- (for a recheck under concurrent update), 47 columns where 23 do
	-- (migration 12).
	d AS (
		SELECT g.ord, g.id, g.t, g.outcome, g.detail, g.retry, g.source,
			g.rtt, g.server, g.vby, g.vrow, g.prow, g.vpv, g.nxt,
			g.nconf, g.nfirst, g.nlast, g.nby, g.ncorr, g.ncon_at,
			g.ncon_out, k.dv, k.dby
		FROM g LEFT JOIN LATERAL (
			SELECT CASE WHEN q.ready
				THEN (SELECT count(DISTINCT s.region) FROM perspective s
				      WHERE s.name = ANY (q.corr_p)) >= pol.min_regions
				ELSE false END AS dv,
				CASE WHEN q.ready
				THEN (SELECT string_agg(w.b, ', ' ORDER BY w.pn)
				      FROM unnest(q.corr_p, q.corr_by) AS w(pn, b)) END AS dby
			FROM (SELECT count(*) FILTER (WHERE e.corr) >= pol.quorum
				AND count(*) FILTER (WHERE o.contrary_at
					> now() - pol.corroboration_window)
				<= verification_contrary_allowed(count(*) FILTER (
					WHERE o.last_probe_at
					> now() - pol.corroboration_window)) AS ready,
				array_agg(o.perspective) FILTER (WHERE e.corr) AS corr_p,
				array_agg(o.confirmed_by) FILTER (WHERE e.corr) AS corr_by
			      FROM (SELECT p.perspective, p.corroborated_at,
					p.last_confirmed_at, p.contrary_at,
					p.last_probe_at, p.confirmed_by
				    FROM verification_probe p
				    WHERE p.verification_id = g.id
				      AND p.perspective <> p_perspective
				      AND p.proof_version = g.vpv
				    UNION ALL
				    SELECT p_perspective, g.ncorr, g.nlast, g.ncon_at,
					g.t, g.nby) o
			      CROSS JOIN LATERAL (SELECT o.corroborated_at IS NOT NULL
				AND o.last_confirmed_at > now() - pol.corroboration_window
				AS corr) e) q) k ON g.outcome IS NOT NULL
		OFFSET 0),
	upd AS (
		UPDATE verification_probe x SET
			-- a row made verified is no longer work: ours here, the
			-- other perspectives' by fol below
			active = CASE WHEN g.dv THEN false ELSE x.active END,
			lease_owner = NULL, lease_token = NULL, lease_until = NULL,
			next_probe_at = CASE WHEN g.outcome IS NULL
				THEN now() + g.retry * interval '1 second' ELSE g.nxt END,
			proof_version = CASE WHEN g.outcome IS NULL THEN x.proof_version
				ELSE g.vpv END,
			attempts = CASE WHEN g.outcome IS NULL THEN x.attempts
				ELSE LEAST(x.attempts + 1, 1000000) END,
			last_probe_at = CASE WHEN g.outcome IS NULL THEN x.last_probe_at ELSE g.t END,
			last_outcome = COALESCE(g.outcome, x.last_outcome),
			last_detail = CASE WHEN g.outcome IS NOT NULL AND p_audit
				THEN g.detail ELSE x.last_detail END,
			confirmations = CASE WHEN g.outcome IS NULL THEN x.confirmations ELSE g.nconf END,
			first_confirmed_at = CASE WHEN g.outcome IS NULL THEN x.first_confirmed_at ELSE g.nfirst END,
			last_confirmed_at = CASE WHEN g.outcome IS NULL THEN x.last_confirmed_at ELSE g.nlast END,
			confirmed_by = CASE WHEN g.outcome IS NULL THEN x.confirmed_by ELSE g.nby END,
			corroborated_at = CASE WHEN g.outcome IS NULL THEN x.corroborated_at ELSE g.ncorr END,
			contrary_at = CASE WHEN g.outcome IS NULL THEN x.contrary_at ELSE g.ncon_at END,
			contrary_outcome = CASE WHEN g.outcome IS NULL THEN x.contrary_outcome ELSE g.ncon_out END
		FROM d g
		-- The row version the batch's lookup found (ours, locked
		-- above): no second index scan, and no condition of x's own
		-- ("perspective = ours", 1 row by statistics taken before it
		-- registered), which would make x the outer side and the batch
		-- the inner one, rescanned for each of x's rows (migration 11).
		WHERE x.ctid = g.prow
		RETURNING g.ord, g.id, g.t, g.outcome, g.detail, g.retry, g.source,
			g.rtt, g.server, g.vby, g.vrow, g.outcome IS NULL AS released,
			CASE WHEN g.outcome IS NULL THEN g.retry
			     ELSE extract(epoch FROM g.nxt - now()) END AS next_s,
			g.outcome IS NOT NULL AND g.ncorr IS NOT NULL
			AND g.ncorr = g.t AS corr, g.dv, g.dby),
	-- verification: the summary of the latest attempt (p_audit) and the
	-- transition to verified, one UPDATE per row, of the row version the
	-- batch's lookup found (locked above, and nothing in this statement
	-- updated it before): a TID scan, not a second primary-key lookup
	-- (migration 12).
	ver AS (
		UPDATE verification x SET
			attempts = CASE WHEN p_audit THEN LEAST(x.attempts::bigint + 1, 1000000)
				ELSE x.attempts END,
			last_probe_at = CASE WHEN p_audit THEN w.t ELSE x.last_probe_at END,
			last_outcome = CASE WHEN p_audit THEN w.outcome ELSE x.last_outcome END,
			last_detail = CASE WHEN p_audit THEN w.detail ELSE x.last_detail END,
			next_probe_at = CASE WHEN p_audit
				THEN now() + w.retry * interval '1 second' ELSE x.next_probe_at END,
			state = CASE WHEN w.dv THEN 'verified' ELSE x.state END,
			verified_at = CASE WHEN w.dv THEN w.t ELSE x.verified_at END,
			verified_by = CASE WHEN w.dv THEN w.dby ELSE x.verified_by END,
			lease_owner = CASE WHEN w.dv THEN NULL ELSE x.lease_owner END,
			lease_token = CASE WHEN w.dv THEN NULL ELSE x.lease_token END,
			lease_until = CASE WHEN w.dv THEN NULL ELSE x.lease_until END
		FROM upd w
		WHERE NOT w.released AND x.ctid = w.vrow AND (p_audit OR w.dv)),
	-- The other perspectives' rows of the rows made verified: no longer
	-- work. By key, not by row version: they are not locked, and an
	-- UPDATE by ctid would skip a row another perspective's LEASE
	-- updated meanwhile, where this one waits for it and updates the
	-- newer version.
	fol AS (
		UPDATE verification_probe x SET active = false,
			lease_owner = NULL, lease_token = NULL, lease_until = NULL
		FROM upd w
		WHERE w.dv AND x.verification_id = w.id
		  AND x.perspective <> p_perspective
		  AND x.active IS DISTINCT FROM false),
	att AS (
		INSERT INTO probe_attempt (verification_id, attempted_at,
			prober, source_address, outcome, detail, rtt_ms,
			perspective)
		SELECT w.id, w.t, p_prober, w.source, w.outcome, w.detail, w.rtt,
			p_perspective
		FROM upd w
		WHERE p_audit AND NOT w.released ORDER BY w.ord)
	SELECT w.id, w.server,
		CASE WHEN w.dv THEN 'verified' ELSE 'pending' END,
		CASE WHEN w.released THEN NULL WHEN w.dv THEN w.dby ELSE w.vby END,
		w.next_s, NOT w.released AND w.corr, NOT w.released
	FROM upd w
	ORDER BY w.ord;
	PERFORM set_config('ntpverify.write_follows', '', true);
END;
$$;

-- The probers' WRITE (store_sql_write). A batch of 32 results or more
-- goes set-based (ntpverify_record_set); a smaller one, or one with a row
-- twice, one result at a time (ntpverify_record_each): for a few results
-- the loop was faster (bench/results.md: a single row verified by two
-- perspectives in ~15 ms rather than ~30 ms). Both apply the same rules,
-- and tests/integration/quorum_record.sh checks that they agree. No
-- attempt's time, stamped by the prober's clock, is kept after now, nor
-- one not finite (migration 14): a result stamped years ahead stayed the
-- perspective's last confirmation, and later ones never came a
-- confirmation_gap after it.
CREATE FUNCTION ntpverify_record(p_perspective text, p_prober text,
	p_audit boolean, r_id bigint[], r_lease uuid[], r_outcome text[],
	r_detail text[], r_source inet[], r_rtt float8[], r_at float8[],
	r_retry float8[], r_contrary boolean[], r_version integer[])
RETURNS TABLE (id bigint, server text, state text, verified_by text,
	       next_in float8, corroborated boolean, decided boolean)
LANGUAGE plpgsql AS $$
DECLARE
	hi float8 := extract(epoch FROM now());
	r_at_kept float8[] := ARRAY(SELECT CASE WHEN a IS NULL THEN NULL
				    WHEN a IN ('NaN', 'Infinity', '-Infinity') THEN hi
				    ELSE least(a, hi) END
			     FROM unnest(r_at) WITH ORDINALITY AS x(a, k) ORDER BY k);
BEGIN
	IF cardinality(r_id) < 32
	   OR (SELECT count(DISTINCT x) FROM unnest(r_id) x) < cardinality(r_id) THEN
		RETURN QUERY SELECT * FROM ntpverify_record_each(p_perspective,
			p_prober, p_audit, r_id, r_lease, r_outcome, r_detail,
			r_source, r_rtt, r_at_kept, r_retry, r_contrary, r_version);
	ELSE
		RETURN QUERY SELECT * FROM ntpverify_record_set(p_perspective,
			p_prober, p_audit, r_id, r_lease, r_outcome, r_detail,
			r_source, r_rtt, r_at_kept, r_retry, r_contrary, r_version);
	END IF;
END;
$$;

-- The exception process (migration 8): docs/admins.md, "Exceptions".

-- Every exception action, never updated or deleted by ntpverify: who
-- (the name the admin gave, and the database role that ran it), when,
-- why, and on what evidence (the neighbour's row as it was then: its id,
-- address, method, and when and by whom it was verified).
CREATE TABLE verification_exception (
	id bigserial PRIMARY KEY,
	verification_id bigint NOT NULL
		REFERENCES verification (id) ON DELETE CASCADE,
	action text NOT NULL,
	admin text NOT NULL,
	db_role text NOT NULL DEFAULT session_user,
	at timestamptz NOT NULL DEFAULT now(),
	reason text NOT NULL,
	state_before text NOT NULL,
	state_after text NOT NULL,
	prefix_length integer,
	evidence_id bigint,
	evidence_server inet,
	evidence_method text,
	evidence_verified_at timestamptz,
	evidence_verified_by text,

	CONSTRAINT verification_exception_action_known CHECK (
		action IN ('link', 'approve', 'reject')),
	CONSTRAINT verification_exception_admin_text CHECK (
		admin ~ '^[[:graph:]][[:print:]]{0,63}$'),
	CONSTRAINT verification_exception_reason_text CHECK (
		length(btrim(reason)) BETWEEN 3 AND 1000)
);

CREATE INDEX verification_exception_by_verification
	ON verification_exception (verification_id, at);

-- Refusals raise SQLSTATE NV001 with one line saying why; the admin
-- commands report it as a negative answer (exit 1). Nothing is changed.
CREATE FUNCTION ntpverify_refuse(p_msg text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'NV001', MESSAGE = p_msg;
END;
$$;

-- The admin's name (the one given, else the database role), after
-- refusing an action without a reason.
CREATE FUNCTION ntpverify_admin_name(p_admin text, p_reason text)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF p_reason IS NULL OR length(btrim(p_reason)) NOT BETWEEN 3 AND 1000 THEN
		PERFORM ntpverify_refuse('a reason of 3 to 1000 characters is required');
	END IF;
	RETURN coalesce(nullif(btrim(p_admin), ''), session_user::text);
END;
$$;

-- Whether neighbour n is evidence for row v: verified by an NTP method
-- (not itself an exception), of the same family, within the same /len.
-- NULL when it is, else the refusal.
CREATE FUNCTION ntpverify_evidence_fault(v verification,
	n verification, p_len integer) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF n.id IS NULL THEN
		RETURN 'the neighbour verification does not exist';
	ELSIF n.id = v.id THEN
		RETURN 'a verification cannot be its own evidence';
	ELSIF n.server_ip = v.server_ip THEN
		-- An earlier verification of the same address proves an
		-- earlier request, maybe by an earlier holder of the address.
		RETURN format('neighbour %s is the same address (%s): an '
			      'earlier verification is no evidence for this one',
			      n.id, host(n.server_ip));
	ELSIF n.state <> 'verified' THEN
		RETURN format('neighbour %s (%s) is %s, not verified', n.id,
			      host(n.server_ip), n.state);
	ELSIF n.proof <> 'ntp' THEN
		RETURN format('neighbour %s (%s) was verified by exception '
			      '(%s), not by an NTP method', n.id,
			      host(n.server_ip), n.proof);
	ELSIF family(n.server_ip) <> family(v.server_ip) THEN
		RETURN format('neighbour %s (%s) is IPv%s, %s is IPv%s', n.id,
			      host(n.server_ip), family(n.server_ip),
			      host(v.server_ip), family(v.server_ip));
	ELSIF network(set_masklen(n.server_ip, p_len))
	      <> network(set_masklen(v.server_ip, p_len)) THEN
		RETURN format('neighbour %s (%s) is not in %s', n.id,
			      host(n.server_ip),
			      network(set_masklen(v.server_ip, p_len)));
	END IF;
	RETURN NULL;
END;
$$;

-- Link pending verification p_id to neighbour p_evidence (indirect proof):
-- the row moves to awaiting_approval. p_len NULL: /24 for IPv4, /64 for
-- IPv6; an admin may give another length (IPv4 16..32, IPv6 32..128),
-- and the audit row records the one judged. Returns the row's address,
-- the neighbour's and the network.
CREATE FUNCTION ntpverify_link(p_id bigint, p_evidence bigint,
	p_admin text, p_reason text, p_len integer)
RETURNS TABLE (server text, neighbour text, network text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v verification;
	n verification;
	who text := ntpverify_admin_name(p_admin, p_reason);
	len integer;
	fault text;
BEGIN
	-- Both rows locked in id order: two admins linking at once serialise.
	PERFORM 1 FROM verification x WHERE x.id IN (p_id, p_evidence)
		ORDER BY x.id FOR UPDATE;
	SELECT * INTO v FROM verification x WHERE x.id = p_id;
	IF NOT FOUND THEN
		PERFORM ntpverify_refuse(format('no verification with id %s', p_id));
	END IF;
	IF v.state <> 'pending' THEN
		PERFORM ntpverify_refuse(format('verification %s is %s, not pending',
						p_id, v.state));
	END IF;
	IF v.expires_at <= now() THEN
		PERFORM ntpverify_refuse(format('verification %s expired at %s: '
			'start a new one', p_id, v.expires_at));
	END IF;
	len := coalesce(p_len, CASE family(v.server_ip) WHEN 4 THEN 24 ELSE 64 END);
	IF (family(v.server_ip) = 4 AND len NOT BETWEEN 16 AND 32)
	   OR (family(v.server_ip) = 6 AND len NOT BETWEEN 32 AND 128) THEN
		PERFORM ntpverify_refuse(format('prefix length %s is out of range '
			'for IPv%s (IPv4 16..32, IPv6 32..128)', len,
			family(v.server_ip)));
	END IF;
	SELECT * INTO n FROM verification x WHERE x.id = p_evidence;
	fault := ntpverify_evidence_fault(v, n, len);
	IF fault IS NOT NULL THEN
		PERFORM ntpverify_refuse(fault);
	END IF;
	UPDATE verification x SET state = 'awaiting_approval', proof = 'indirect',
		lease_owner = NULL, lease_token = NULL, lease_until = NULL
	WHERE x.id = p_id;
	INSERT INTO verification_exception (verification_id, action, admin,
		reason, state_before, state_after, prefix_length, evidence_id,
		evidence_server, evidence_method, evidence_verified_at,
		evidence_verified_by)
	VALUES (p_id, 'link', who, p_reason,
		'pending', 'awaiting_approval', len, n.id, n.server_ip,
		n.method, n.verified_at, n.verified_by);
	server := host(v.server_ip);
	neighbour := host(n.server_ip);
	network := network(set_masklen(v.server_ip, len))::text;
	RETURN NEXT;
END;
$$;

-- Approve p_id: a row awaiting approval (its link's evidence is checked
-- again) becomes verified by 'indirect' proof, a pending row (checked out
-- of band) by 'manual' proof. Returns the address and verified_by.
CREATE FUNCTION ntpverify_approve(p_id bigint, p_admin text,
	p_reason text)
RETURNS TABLE (server text, proof text, verified_by text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v verification;
	n verification;
	l verification_exception;
	who text := ntpverify_admin_name(p_admin, p_reason);
	fault text;
	summary text;
BEGIN
	SELECT * INTO v FROM verification x WHERE x.id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM ntpverify_refuse(format('no verification with id %s', p_id));
	END IF;
	IF v.state NOT IN ('pending', 'awaiting_approval') THEN
		PERFORM ntpverify_refuse(format('verification %s is %s, not '
			'pending or awaiting approval', p_id, v.state));
	END IF;
	IF v.state = 'pending' AND v.expires_at <= now() THEN
		PERFORM ntpverify_refuse(format('verification %s expired at %s: '
			'start a new one', p_id, v.expires_at));
	END IF;
	IF v.state = 'awaiting_approval' THEN
		SELECT * INTO l FROM verification_exception e
		WHERE e.verification_id = p_id AND e.action = 'link'
		ORDER BY e.id DESC LIMIT 1;
		SELECT * INTO n FROM verification x WHERE x.id = l.evidence_id
			FOR SHARE;
		fault := ntpverify_evidence_fault(v, n, l.prefix_length);
		IF fault IS NOT NULL THEN
			PERFORM ntpverify_refuse(fault || ': not approved; '
				'reject the link');
		END IF;
		summary := format('exception: indirect, approved by %s (neighbour %s %s)',
			     who, n.id, host(n.server_ip));
	ELSE
		summary := format('exception: manual, approved by %s', who);
	END IF;
	UPDATE verification x SET state = 'verified', verified_at = now(),
		verified_by = summary,
		proof = CASE WHEN v.state = 'pending' THEN 'manual' ELSE 'indirect' END,
		lease_owner = NULL, lease_token = NULL, lease_until = NULL
	WHERE x.id = p_id;
	INSERT INTO verification_exception (verification_id, action, admin,
		reason, state_before, state_after, prefix_length, evidence_id,
		evidence_server, evidence_method, evidence_verified_at,
		evidence_verified_by)
	VALUES (p_id, 'approve', who, p_reason, v.state, 'verified',
		l.prefix_length, n.id, n.server_ip, n.method, n.verified_at,
		n.verified_by);
	server := host(v.server_ip);
	proof := CASE WHEN v.state = 'pending' THEN 'manual' ELSE 'indirect' END;
	verified_by := summary;
	RETURN NEXT;
END;
$$;

-- Reject p_id: a row awaiting approval goes back to pending (the NTP
-- methods may still verify it; every perspective probes it again now); a
-- pending row stays pending, the refusal of an out-of-band request on
-- record. Returns the address and the state after.
CREATE FUNCTION ntpverify_reject(p_id bigint, p_admin text,
	p_reason text)
RETURNS TABLE (server text, state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v verification;
	who text := ntpverify_admin_name(p_admin, p_reason);
BEGIN
	SELECT * INTO v FROM verification x WHERE x.id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM ntpverify_refuse(format('no verification with id %s', p_id));
	END IF;
	IF v.state NOT IN ('pending', 'awaiting_approval') THEN
		PERFORM ntpverify_refuse(format('verification %s is %s, not '
			'pending or awaiting approval', p_id, v.state));
	END IF;
	IF v.state = 'awaiting_approval' THEN
		UPDATE verification x SET state = 'pending', proof = 'ntp',
			next_probe_at = now()
		WHERE x.id = p_id;
		-- Perspectives stopped when the row left pending (and ones
		-- registered since have no row yet): all probe it now, a
		-- perspective registering meanwhile too (the lock of
		-- ntpverify_register, migration 14).
		PERFORM ntpverify_perspectives_lock(false);
		INSERT INTO verification_probe AS p (verification_id,
			perspective, proof_version, next_probe_at)
		SELECT p_id, s.name, v.proof_version, now() FROM perspective s
		FOR KEY SHARE
		ON CONFLICT (verification_id, perspective) DO UPDATE
		SET active = true, next_probe_at = now(), lease_owner = NULL,
		    lease_token = NULL, lease_until = NULL;
	END IF;
	INSERT INTO verification_exception (verification_id, action, admin,
		reason, state_before, state_after)
	VALUES (p_id, 'reject', who, p_reason,
		v.state, 'pending');
	server := host(v.server_ip);
	state := 'pending';
	RETURN NEXT;
END;
$$;

-- Every trigger function of the schema looks names up in pg_catalog,
-- then the schema, then pg_temp, whatever the session's search_path:
-- those that run with the owner's rights, and the checks that run with
-- the caller's (a caller's own schema first in its path must not stand
-- in for pg_has_role). A migration that replaces one of them sets it
-- again (CREATE OR REPLACE resets it); schema_references.sh checks.
DO $$
DECLARE
	f text;
BEGIN
	FOREACH f IN ARRAY ARRAY['verification_notify_due', 'ntpverify_references_check',
		'verification_probe_key_fixed', 'perspective_name_fixed',
		'ntpverify_references_cascade', 'verification_probe_create',
		'verification_proof_bump', 'verification_state_final',
		'verification_expiry_by_probers', 'verification_exception_by_admins',
		'verification_probe_follow', 'verification_notify_due_row'] LOOP
		EXECUTE format('ALTER FUNCTION %I.%I() SET search_path = pg_catalog, %I, pg_temp',
			       current_schema(), f, current_schema());
	END LOOP;
END;
$$;

-- Every migration this file already contains, so that `ntpverify migrate`
-- on a database created from this file has nothing to do.
INSERT INTO schema_version (version, description) VALUES
	(1, 'initial'),
	(2, 'key_method'),
	(3, 'queue_bounds'),
	(5, 'send_failed'),
	(6, 'perspectives'),
	(7, 'refid_method'),
	(8, 'exceptions'),
	(9, 'liveness_batch_write'),
	(10, 'round_cost'),
	(11, 'set_based_references'),
	(12, 'lean_round'),
	(13, 'final_states'),
	(14, 'role_boundaries'),
	(15, 'row_follow');
