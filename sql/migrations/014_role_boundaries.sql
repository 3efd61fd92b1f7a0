-- 014_role_boundaries: each role writes only what sql/schema.sql ("Who
-- writes what") and docs/security.md give it, whatever its column rights
-- would let through.
--
-- * Only the probers (and the schema's owner) make a verification
--   expired. The web site's right to UPDATE state is a right to cancel,
--   but it could set a pending row (or one awaiting approval) to
--   'expired', a state that says the operator ran out of time and that
--   the pool's history and metrics count. Expiry is the probers'
--   judgement (expires_at, their retry.expiry): it now takes a role that
--   may write the perspectives' rows (docs/admins.md grants the probers
--   UPDATE on verification_probe, the web site nothing there).
-- * Proof by exception stays with the exception functions, run by an
--   admin (a member of the owner's role): another role (the probers' has
--   UPDATE on every column) can neither set `proof` nor change the state
--   of a row proven by exception other than to cancel it, each of which
--   skipped the function's checks and its audit row.
-- * The trigger functions look names up in pg_catalog, then the schema,
--   then pg_temp, last: with the search path the owner's (SECURITY
--   DEFINER) ones had, a session's temporary table named like one of the
--   schema's came first (a role with TEMP could give a new verification
--   rows for a perspective of its own and none for the real ones), and
--   the checks that run with the caller's rights took the caller's.
-- * A perspective registering for the first time while the web site's
--   INSERT (or an admin's reject) is open gets rows for its
--   verifications: each used to miss the other's uncommitted rows, and
--   the perspective never probed them before its prober reconnected.
--   The INSERT's trigger and a reject take one advisory lock shared, the
--   first registration of a perspective exclusive. (An INSERT in a
--   REPEATABLE READ transaction reads the perspectives as its snapshot
--   saw them: the web site inserts in READ COMMITTED, the default.)
-- * The policy's intervals are plain days and times: an interval with
--   months ('1 mon', '-1 mon +31 days') passed the range CHECKs and then
--   meant a different length each month (one set so by hand becomes the
--   seconds it compared as).
-- * An attempt's time, which the prober stamps with its own clock, is
--   now at the latest (and now when it is not finite): a result stamped
--   years ahead stayed the perspective's last confirmation, and later
--   confirmations never came a confirmation_gap after it. Such times
--   already written are brought back to now.
--
-- Migrate refuses a schema in which roles other than its owner may
-- create objects (prober/store/migrate.c; PostgreSQL 13 and 14 let every
-- role create in schema public): an operator planted there would run,
-- with the rights of whoever calls them, inside ntpverify's functions.
--
-- Written to be applied again over itself (OR REPLACE, IF EXISTS).

-- In the order the probers' WRITE takes them (the policy, then
-- verification), so that a WRITE running meanwhile waits instead of
-- deadlocking with the DROP TRIGGER and ALTER TABLE below. Held to the
-- end of `ntpverify migrate`'s transaction; in a DO block so that the
-- file also runs statement by statement (psql -f), where it holds
-- nothing.
DO $$
BEGIN
	LOCK TABLE verification_policy, verification IN ACCESS EXCLUSIVE MODE;
END;
$$;

CREATE OR REPLACE FUNCTION verification_expiry_by_probers() RETURNS trigger
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

DROP TRIGGER IF EXISTS verification_expiry_on_update ON verification;
CREATE TRIGGER verification_expiry_on_update
	BEFORE UPDATE OF state ON verification
	FOR EACH ROW -- plpgsql is entered only for a row becoming expired
	WHEN (NEW.state = 'expired'
	      AND OLD.state NOT IN ('verified', 'expired', 'cancelled'))
	EXECUTE FUNCTION verification_expiry_by_probers();

CREATE OR REPLACE FUNCTION verification_exception_by_admins() RETURNS trigger
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

DROP TRIGGER IF EXISTS verification_exception_on_insert ON verification;
CREATE TRIGGER verification_exception_on_insert
	BEFORE INSERT ON verification
	FOR EACH ROW -- plpgsql is entered only for a row not proven by NTP
	WHEN (NEW.proof <> 'ntp')
	EXECUTE FUNCTION verification_exception_by_admins();

DROP TRIGGER IF EXISTS verification_exception_on_update ON verification;
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

-- The lock ("ntpv", 1) that orders a perspective's first registration
-- (exclusive) against the statements that give every perspective a row
-- (shared: the INSERT's trigger, a reject), so that neither misses the
-- other's uncommitted rows (migration 14). Held to the transaction's end.
CREATE OR REPLACE FUNCTION ntpverify_perspectives_lock(p_exclusive boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF p_exclusive THEN
		PERFORM pg_advisory_xact_lock(1853124726, 1);
	ELSE
		PERFORM pg_advisory_xact_lock_shared(1853124726, 1);
	END IF;
END;
$$;

CREATE OR REPLACE FUNCTION verification_probe_create() RETURNS trigger
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

CREATE OR REPLACE FUNCTION ntpverify_register(p_name text, p_region text,
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

-- A reject, like an INSERT, reads the perspectives under the shared lock.
CREATE OR REPLACE FUNCTION ntpverify_reject(p_id bigint, p_admin text,
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
		'verification_probe_follow'] LOOP
		EXECUTE format('ALTER FUNCTION %I.%I() SET search_path = pg_catalog, %I, pg_temp',
			       current_schema(), f, current_schema());
	END LOOP;
END;
$$;

-- A policy that holds months (set by hand) in seconds, the length it had
-- when compared, so that the CHECK below can be added.
UPDATE verification_policy
SET confirmation_gap = extract(epoch FROM confirmation_gap) * interval '1 second',
    corroboration_window = extract(epoch FROM corroboration_window) * interval '1 second'
WHERE extract(month FROM confirmation_gap) <> 0 OR extract(year FROM confirmation_gap) <> 0
   OR extract(month FROM corroboration_window) <> 0
   OR extract(year FROM corroboration_window) <> 0;

-- Times a prober stamped ahead of the database, before the clamp below:
-- now at the latest.
UPDATE verification_probe
SET last_probe_at = least(last_probe_at, now()),
    first_confirmed_at = least(first_confirmed_at, now()),
    last_confirmed_at = least(last_confirmed_at, now()),
    corroborated_at = least(corroborated_at, now()),
    contrary_at = least(contrary_at, now())
WHERE last_probe_at > now() OR first_confirmed_at > now()
   OR last_confirmed_at > now() OR corroborated_at > now() OR contrary_at > now();

ALTER TABLE verification_policy
	DROP CONSTRAINT IF EXISTS verification_policy_plain_intervals;
ALTER TABLE verification_policy ADD CONSTRAINT verification_policy_plain_intervals CHECK (
	extract(year FROM confirmation_gap) = 0 AND extract(month FROM confirmation_gap) = 0
	AND extract(day FROM confirmation_gap) >= 0
	AND confirmation_gap - extract(day FROM confirmation_gap) * interval '1 day' >= interval '0'
	AND extract(year FROM corroboration_window) = 0
	AND extract(month FROM corroboration_window) = 0
	AND extract(day FROM corroboration_window) >= 0
	AND corroboration_window - extract(day FROM corroboration_window) * interval '1 day'
		>= interval '0');

-- The probers' WRITE: no attempt's time after now, and none not finite
-- (now instead), in the order given (NULL stays NULL: a lease given back
-- has no time). Earlier times stay as they are: a result older than the
-- window must not become a fresh one.
CREATE OR REPLACE FUNCTION ntpverify_record(p_perspective text, p_prober text,
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

INSERT INTO schema_version (version, description) VALUES (14, 'role_boundaries')
	ON CONFLICT DO NOTHING;
