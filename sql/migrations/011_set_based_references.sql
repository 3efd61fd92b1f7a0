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
-- (bench/record_bench.sh). What the three foreign keys guaranteed is kept
-- (sql/schema.sql, "References"): new rows must refer to existing rows,
-- checked and locked FOR KEY SHARE in one query per statement; deleting
-- or truncating a verification or perspective deletes its rows, in READ
-- COMMITTED (elsewhere refused: a trigger's view could miss a concurrent
-- registration's rows); the key columns and a perspective's name are
-- fixed.
--
-- Also, for the same round:
--
-- * each perspective starts on a large INSERT's rows at a point of its
--   own (verification_probe_create), so that two perspectives no longer
--   lease the same rows at the same moment and wait for each other's
--   row locks;
-- * the follow trigger finds the perspectives' rows of a statement's
--   verifications by primary key (an "= ANY (1,000 ids)" was estimated
--   at 25,000 rows and read the whole table);
-- * the WRITE uses no bitmap scans and nested loops only, computes each
--   step of the stance once per row, sorts for the decision only where a
--   quorum is possible, updates the row version its lookup found (locked
--   before it), and is one statement after its locks;
-- * a registration locks only the verifications it gives rows to, in id
--   order (as the WRITEs lock theirs).
--
-- Written to be applied again over itself (IF EXISTS, OR REPLACE).

ALTER TABLE verification_probe
	DROP CONSTRAINT IF EXISTS verification_probe_verification_id_fkey,
	DROP CONSTRAINT IF EXISTS verification_probe_perspective_fkey;
ALTER TABLE probe_attempt
	DROP CONSTRAINT IF EXISTS probe_attempt_verification_id_fkey;

-- A statement's new rows of verification_probe or probe_attempt refer to
-- existing rows, locked FOR KEY SHARE, or the statement fails as a
-- foreign key would (23503). One probe per new row through the
-- referenced table's primary key (a nested loop: a transition table has
-- no statistics, and a hash join would read all of verification).
CREATE OR REPLACE FUNCTION ntpverify_references_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
DECLARE
	ids bigint[];   -- the verifications the new rows name, each once
	names text[];   -- the perspectives they name (verification_probe)
	held bigint;    -- how many of them exist, locked
	bad text;
BEGIN
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

-- A perspective keeps its name: its rows here name it (a foreign key
-- refused the rename of a perspective with rows).
CREATE OR REPLACE FUNCTION perspective_name_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.name IS DISTINCT FROM OLD.name THEN
		RAISE EXCEPTION 'a perspective''s name may not change'
			USING ERRCODE = 'NV001';
	END IF;
	RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS perspective_name_on_update ON perspective;
CREATE TRIGGER perspective_name_on_update
	BEFORE UPDATE OF name ON perspective
	FOR EACH ROW EXECUTE FUNCTION perspective_name_fixed();

-- ON DELETE CASCADE, per statement: the rows of the verifications (or
-- perspectives) a statement deleted, each found through an index (the
-- audit trail is the largest table: deleting one verification must not
-- read all of it). Schema owner's rights: the web site may delete a
-- verification without any right on these tables.
CREATE OR REPLACE FUNCTION ntpverify_references_cascade() RETURNS trigger
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
-- held against deletion until the INSERT commits, and each perspective
-- starting on a statement's rows at a point of its own: the rows of the
-- statement in id order, rotated by rank/k of them for the perspective of
-- rank (by name) among k, one microsecond apart, so that with k
-- perspectives each begins on its own k-th of a large INSERT (a single
-- row: no delay). Without it every perspective leased the same rows in
-- the same order: the second one's WRITEs waited for the first one's row
-- locks batch after batch, and it alone took every quorum decision, so
-- it finished long after the first (bench/results.md, "Schema 11").
CREATE OR REPLACE FUNCTION verification_probe_create() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	INSERT INTO verification_probe (verification_id, perspective,
					proof_version, next_probe_at)
	SELECT n.id, s.name, n.proof_version,
		n.next_probe_at + ((n.pos + n.cnt - s.rank * n.cnt / s.k) % n.cnt)
			* interval '1 microsecond'
	FROM (SELECT c.id, c.proof_version, c.next_probe_at,
		     row_number() OVER (ORDER BY c.id) - 1 AS pos,
		     count(*) OVER () AS cnt
	      FROM changed_rows c WHERE c.state = 'pending') n
	CROSS JOIN (SELECT s1.name, row_number() OVER (ORDER BY s1.name) - 1 AS rank,
			   count(*) OVER () AS k
		    FROM (SELECT s0.name FROM perspective s0 FOR KEY SHARE) s1) s;
	RETURN NULL;
END;
$$;

-- Registration (migration 9), with the pending verifications it gives
-- rows to held against deletion until it commits, locked in id order
-- like a WRITE's (a re-registration locks nothing that has its row).
CREATE OR REPLACE FUNCTION ntpverify_register(p_name text, p_region text,
				   p_sources inet[], p_prober text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ntpverify_seen(p_name, p_region, p_sources, p_prober);
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

-- The probers' WRITE (migration 10): no bitmap scans, the decision's
-- sorts only where a quorum is possible, our perspective's rows updated
-- by the version the lookup found (comments inside).
CREATE OR REPLACE FUNCTION ntpverify_record_set(p_perspective text, p_prober text,
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
SET enable_hashjoin = off SET enable_mergejoin = off AS $$
DECLARE
	pol verification_policy;
BEGIN
	SELECT * INTO pol FROM verification_policy;
	-- Lock in id order: the verification rows, then our perspective's
	-- (a LEASE of another prober of ours may hold one a moment); the
	-- statement below then sees what was committed before. Two
	-- statements, each one index scan: as a join the planner read a
	-- whole table for each row of the batch when statistics were few.
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
				v0.verified_by AS vby, v0.proof_version AS vpv
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
	d AS (
		SELECT g.*, k.dv, k.dby
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
				AS corr) e) q) k ON g.outcome IS NOT NULL),
	upd AS (
		UPDATE verification_probe x SET
			-- a row made verified is no longer work: ours here, the
			-- other perspectives' by verification_probe_follow
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
			g.rtt, g.server, g.vby, g.outcome IS NULL AS released,
			CASE WHEN g.outcome IS NULL THEN g.retry
			     ELSE extract(epoch FROM g.nxt - now()) END AS next_s,
			g.outcome IS NOT NULL AND g.ncorr IS NOT NULL
			AND g.ncorr = g.t AS corr, g.dv, g.dby),
	-- verification: the summary of the latest attempt (p_audit) and the
	-- transition to verified, one UPDATE per row.
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
		WHERE NOT w.released AND x.id = w.id AND (p_audit OR w.dv)),
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
END;
$$;

INSERT INTO schema_version (version, description) VALUES (11, 'set_based_references')
	ON CONFLICT DO NOTHING;
