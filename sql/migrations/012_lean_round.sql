-- 012_lean_round: the same work with fewer lookups and locks, for
-- throughput (bench/results.md, "Schema 12"). Nothing the web site writes
-- or reads changes meaning; sql/schema.sql documents the contract.
--
-- * The LEASE joins by nested loops only: on statistics that saw few
--   rows the planner hashed all of verification for each LEASE (a
--   sequential scan of the whole table, history included).
-- * The WRITE updates verification by the row version its lookup found
--   (locked before, as it does for the perspective's rows since
--   migration 11), and hands its UPDATE of the perspective's rows only the
--   columns it uses (the FROM item is copied whole per row updated).
-- * verification_probe_create rotates each perspective's start point
--   over the statement's rows in the order it inserted them (its ids'
--   order) instead of sorting them by id first, and its rows skip the
--   reference check: they refer to the verifications of the very
--   statement that fired it, which no other transaction can see, and to
--   perspectives it holds itself. The check stays for every other INSERT.
--
-- Written to be applied again over itself (OR REPLACE).

CREATE OR REPLACE FUNCTION ntpverify_references_check() RETURNS trigger
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

-- A new pending verification is work for every registered perspective
-- (migration 11), each starting at a point of its own: the statement's
-- rows rotated by rank/k of their count for the perspective of rank (by
-- name) among k, one microsecond apart, in the order the statement
-- inserted them (which is its ids' order: no sort).
CREATE OR REPLACE FUNCTION verification_probe_create() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
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

-- The probers' LEASE (migration 10), nested loops only.
CREATE OR REPLACE FUNCTION ntpverify_lease(p_limit integer, p_prober text,
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

-- The probers' WRITE (migration 11), verification updated by the row
-- version its lookup found.
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

INSERT INTO schema_version (version, description) VALUES (12, 'lean_round')
	ON CONFLICT DO NOTHING;
