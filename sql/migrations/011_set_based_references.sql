-- 011_set_based_references: the probers' rows refer to their verification
-- and perspective as before, but the references are kept per statement
-- instead of per row, for throughput (bench/results.md, "Schema 11").
-- Nothing the web site writes or reads changes meaning; sql/schema.sql
-- documents the contract.
--
-- A foreign key checks every inserted row with a query of its own and a
-- row lock on the referenced row, and queues an event per row for it: in
-- the two-perspective round of 10,000 rows that was 40,000 checks for the
-- perspective rows the web site's INSERT creates and 20,000 for the audit
-- rows, 60 % of the INSERT's time and a fifth of the probers' WRITEs
-- (bench/record_bench.sh). What the three foreign keys guaranteed is kept:
--
-- * no row of verification_probe or probe_attempt names a verification
--   (or perspective) that does not exist: statement triggers check each
--   INSERT's rows in one query, and the key columns of verification_probe
--   cannot be updated. The functions that insert them hold the rows they
--   refer to against deletion: the INSERT trigger's verifications are its
--   own statement's, the WRITEs lock their verifications FOR UPDATE, and
--   the registration and the reject lock theirs FOR KEY SHARE, as the
--   foreign key did;
-- * deleting (or truncating) a verification or a perspective deletes its
--   rows here, as ON DELETE CASCADE did, by statement triggers.
--
-- Also: the follow trigger finds the perspectives' rows of a statement's
-- verifications by primary key (an "= ANY (1,000 ids)" was estimated at
-- 25,000 rows and read the whole table, 40,000 rows for each WRITE that
-- made rows verified).
--
-- Written to be applied again over itself (IF EXISTS, OR REPLACE).

ALTER TABLE verification_probe
	DROP CONSTRAINT IF EXISTS verification_probe_verification_id_fkey,
	DROP CONSTRAINT IF EXISTS verification_probe_perspective_fkey;
ALTER TABLE probe_attempt
	DROP CONSTRAINT IF EXISTS probe_attempt_verification_id_fkey;

-- A statement's new rows of verification_probe or probe_attempt refer to
-- existing rows, or the statement fails as a foreign key would (23503).
-- One probe per new row through the referenced table's primary key (a
-- nested loop: a transition table has no statistics, and a hash join
-- would read all of verification).
CREATE OR REPLACE FUNCTION ntpverify_references_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
DECLARE
	bad text;
BEGIN
	IF TG_TABLE_NAME = 'verification_probe' THEN
		SELECT format('verification %s, perspective %s', n.verification_id,
			      n.perspective) INTO bad
		FROM new_rows n
		WHERE NOT EXISTS (SELECT 1 FROM verification v
				  WHERE v.id = n.verification_id)
		   OR n.perspective NOT IN (SELECT s.name FROM perspective s)
		LIMIT 1;
	ELSE
		SELECT format('verification %s', n.verification_id) INTO bad
		FROM new_rows n
		WHERE NOT EXISTS (SELECT 1 FROM verification v
				  WHERE v.id = n.verification_id)
		LIMIT 1;
	END IF;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'insert into % refers to a missing row (%)',
			TG_TABLE_NAME, bad USING ERRCODE = 'foreign_key_violation';
	END IF;
	RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS verification_probe_references ON verification_probe;
CREATE TRIGGER verification_probe_references
	AFTER INSERT ON verification_probe
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_check();

DROP TRIGGER IF EXISTS probe_attempt_references ON probe_attempt;
CREATE TRIGGER probe_attempt_references
	AFTER INSERT ON probe_attempt
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_check();

-- A perspective's row stays the row of its verification and perspective.
CREATE OR REPLACE FUNCTION verification_probe_key_fixed() RETURNS trigger
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

DROP TRIGGER IF EXISTS verification_probe_key_on_update ON verification_probe;
CREATE TRIGGER verification_probe_key_on_update
	BEFORE UPDATE OF verification_id, perspective ON verification_probe
	FOR EACH ROW EXECUTE FUNCTION verification_probe_key_fixed();

-- ON DELETE CASCADE, per statement: the rows of the verifications (or
-- perspectives) a statement deleted, each found through an index (the
-- audit trail is the largest table: deleting one verification must not
-- read all of it). Schema owner's rights: the web site may delete a
-- verification without any right on these tables.
CREATE OR REPLACE FUNCTION ntpverify_references_cascade() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
BEGIN
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

DROP TRIGGER IF EXISTS verification_references_on_delete ON verification;
CREATE TRIGGER verification_references_on_delete
	AFTER DELETE ON verification
	REFERENCING OLD TABLE AS gone_rows
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_cascade();
DROP TRIGGER IF EXISTS verification_references_on_truncate ON verification;
CREATE TRIGGER verification_references_on_truncate
	AFTER TRUNCATE ON verification
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_cascade();
DROP TRIGGER IF EXISTS perspective_references_on_delete ON perspective;
CREATE TRIGGER perspective_references_on_delete
	AFTER DELETE ON perspective
	REFERENCING OLD TABLE AS gone_rows
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_cascade();
DROP TRIGGER IF EXISTS perspective_references_on_truncate ON perspective;
CREATE TRIGGER perspective_references_on_truncate
	AFTER TRUNCATE ON perspective
	FOR EACH STATEMENT EXECUTE FUNCTION ntpverify_references_cascade();

-- The INSERT's perspective rows (migration 10), with the perspectives
-- held against deletion until the INSERT commits.
CREATE OR REPLACE FUNCTION verification_probe_create() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	INSERT INTO verification_probe (verification_id, perspective,
					proof_version, next_probe_at)
	SELECT n.id, s.name, n.proof_version, n.next_probe_at
	FROM changed_rows n
	CROSS JOIN (SELECT s0.name FROM perspective s0 FOR KEY SHARE) s
	WHERE n.state = 'pending';
	RETURN NULL;
END;
$$;

-- Registration (migration 9), with the pending verifications held
-- against deletion until it commits.
CREATE OR REPLACE FUNCTION ntpverify_register(p_name text, p_region text,
				   p_sources inet[], p_prober text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ntpverify_seen(p_name, p_region, p_sources, p_prober);
	INSERT INTO verification_probe (verification_id, perspective,
					proof_version, next_probe_at)
	SELECT v.id, p_name, v.proof_version, v.next_probe_at
	FROM verification v WHERE v.state = 'pending'
	FOR KEY SHARE OF v
	ON CONFLICT DO NOTHING;
END;
$$;

-- The reject (migration 8), with the perspectives it gives the row back
-- to held against deletion until it commits.
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
		-- registered since have no row yet): all probe it now.
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

-- The follow trigger (migration 10) reads the perspectives' rows of a
-- statement's verifications by primary key: on "= ANY (ids)" the planner
-- estimated a quarter of the table and read all of it.
ALTER FUNCTION verification_probe_follow() SET enable_seqscan = off;

INSERT INTO schema_version (version, description) VALUES (11, 'set_based_references')
	ON CONFLICT DO NOTHING;
