-- 010_round_cost: the same work with fewer row writes and no planner
-- traps, for throughput (bench/results.md, "Schema 10"). Nothing the web
-- site writes or reads changes meaning; sql/schema.sql documents the
-- contract.
--
-- * verification_token_charset checks the same strings without a bounded
--   repetition: '^[A-Za-z0-9_-]{8,128}$' cost ~14 us per row in
--   PostgreSQL's regex engine, on every INSERT and every UPDATE of the row
--   (a CHECK is evaluated whatever columns change), ~18 times the length
--   test and a negated class.
-- * verification_probe_create inserts without ON CONFLICT: its rows are
--   new verifications, which no perspective can have a row for yet (a
--   registration sees them only once this INSERT committed), and the
--   speculative insertion cost a quarter of the trigger.
-- * verification_due goes: nothing reads it since migration 6 (the LEASE
--   walks verification_probe_due), and an indexed next_probe_at made every
--   prober's summary UPDATE of verification a non-HOT update with an entry
--   in each of its indexes. With free space in each page (fillfactor) the
--   summary update and the LEASE's update of verification_probe (lease
--   columns only) stay on their page without index entries.
-- * The LEASE is ntpverify_lease(): a plan that walks verification_probe_due
--   in next_probe_at order and stops at the batch, whatever the statistics
--   (right after a large INSERT they said "a few rows", and the planner
--   joined and sorted every pending row, or worse, for each lease).
-- * ntpverify_record_set takes the quorum decision in the statement that
--   writes our perspective's rows, so a row it makes verified has its
--   perspective row written once (active = false with the result) instead
--   of twice (the follow trigger's deactivation after it).
--
-- Written to be applied again over itself (IF EXISTS, OR REPLACE).

ALTER TABLE verification DROP CONSTRAINT IF EXISTS verification_token_charset;
ALTER TABLE verification ADD CONSTRAINT verification_token_charset CHECK (
	length(token) BETWEEN 8 AND 128 AND token !~ '[^A-Za-z0-9_-]');

DROP INDEX IF EXISTS verification_due;
ALTER TABLE verification SET (fillfactor = 50);
ALTER TABLE verification_probe SET (fillfactor = 50);

-- A new pending verification is work for every registered perspective
-- (schema owner's rights, as in migration 6).
CREATE OR REPLACE FUNCTION verification_probe_create() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	INSERT INTO verification_probe (verification_id, perspective,
					proof_version, next_probe_at)
	SELECT n.id, s.name, n.proof_version, n.next_probe_at
	FROM changed_rows n CROSS JOIN perspective s
	WHERE n.state = 'pending';
	RETURN NULL;
END;
$$;

-- The probers' LEASE (store_sql_lease): claim at most p_limit of our
-- perspective's due rows, skipping rows another prober of the same
-- perspective holds, for p_lease_ms; only rows still pending, before the
-- web site's expires_at and younger than the prober's retry.expiry
-- (p_expiry_ms). The verification's conditions are a per-row subquery
-- and sorting is off, so the only plan reads verification_probe_due in
-- next_probe_at order and stops after p_limit rows.
CREATE OR REPLACE FUNCTION ntpverify_lease(p_limit integer, p_prober text,
	p_lease_ms float8, p_expiry_ms float8, p_perspective text)
RETURNS TABLE (id bigint, server text, token text, attempts integer,
	       lease_token text, method text, key_id integer, key_type text,
	       key_secret text, proof_version integer, refid_code text)
LANGUAGE sql SET enable_sort = off AS $$
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
	WHERE p.verification_id = due.verification_id
	  AND p.perspective = p_perspective AND v.id = p.verification_id
	RETURNING v.id, host(v.server_ip), v.token, p.attempts,
		  p.lease_token::text, v.method, v.key_id, v.key_type,
		  v.key_secret, v.proof_version, v.refid_code
$$;

-- The probers' WRITE set-based, as in migration 9 but with the decision
-- taken before our perspective's rows are written (see above).
CREATE OR REPLACE FUNCTION ntpverify_record_set(p_perspective text, p_prober text,
	p_audit boolean, r_id bigint[], r_lease uuid[], r_outcome text[],
	r_detail text[], r_source inet[], r_rtt float8[], r_at float8[],
	r_retry float8[], r_contrary boolean[], r_version integer[])
RETURNS TABLE (id bigint, server text, state text, verified_by text,
	       next_in float8, corroborated boolean, decided boolean)
-- Never JIT: on a fresh table the planner's row estimates for a batch of
-- 1,000 can pass jit_above_cost, and compiling took ~0.5 s of a ~0.1 s
-- statement (bench/results.md).
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
	pol verification_policy;
	-- The applied results, in batch order, unnested once: a subscript
	-- of an array of text walks it from its start, so one per row is
	-- quadratic in the batch.
	a_ord integer[];      -- their positions in r_*
	a_id bigint[];        -- their rows
	a_at timestamptz[];   -- attempted_at
	a_out text[];         -- outcome (NULL: a lease given back)
	a_detail text[];
	a_retry float8[];
	a_source inet[];
	a_rtt float8[];
	a_server text[];      -- their rows' addresses
	a_by text[];          -- their rows' verified_by before
	a_next float8[];      -- seconds until our perspective probes again
	a_corr boolean[];     -- this result made our perspective corroborate
	a_dv boolean[];       -- the decision made the row verified
	a_dby text[];         -- the perspectives that corroborate it
BEGIN
	SELECT * INTO pol FROM verification_policy;
	-- Lock in id order: the verification rows, then our perspective's
	-- (a LEASE of another prober of ours may hold one a moment); the
	-- statements below then see what was committed before.
	PERFORM 1 FROM verification x WHERE x.id = ANY (r_id)
		ORDER BY x.id FOR UPDATE;
	PERFORM 1 FROM verification_probe x WHERE x.verification_id = ANY (r_id)
		AND x.perspective = p_perspective
		ORDER BY x.verification_id FOR UPDATE;
	-- Our perspective's rows: a NULL outcome gives the lease back, any
	-- other outcome is applied by the stance rules (ntpverify_stance).
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
				p0.perspective AS persp
			FROM verification_probe p0
			WHERE p0.verification_id = u.id
			  AND p0.perspective = p_perspective
			OFFSET 0) p
		WHERE v.vstate = 'pending'
		  AND (p.plt IS NOT DISTINCT FROM u.lease
		       OR (u.outcome = 'verified'
			   AND (p.plp IS NULL OR p.plp < to_timestamp(u.at))))),
	b AS ( -- counts of an older proof, or too old, start over
		SELECT j.*, j.ppv <> j.vpv
			OR j.plast < now() - pol.corroboration_window AS reset
		FROM j),
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
		FROM b),
	s AS ( -- the stance after this result
		SELECT c.*,
			CASE WHEN cur AND outcome = 'verified' THEN 'v'
			     WHEN cur AND contrary THEN 'c' ELSE '-' END AS kind,
			cur AND outcome = 'verified'
			AND (blast IS NULL OR t - blast >= pol.confirmation_gap) AS counts
		FROM c),
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
		FROM s),
	f AS (
		SELECT n.*,
			CASE WHEN kind = 'v' AND nconf >= pol.confirmations
			     THEN COALESCE(bcorr, t)
			     WHEN kind = 'c' THEN NULL ELSE bcorr END AS ncorr
		FROM n),
	g AS (
		SELECT f.*, now() + CASE
			WHEN outcome = 'verified' AND ncorr IS NULL
			THEN pol.confirmation_gap
			ELSE retry * interval '1 second' END AS nxt
		FROM f),
	-- The quorum decision (ntpverify_decide's rule, over the rows
	-- verification_progress would count) for the rows with a result:
	-- the other perspectives' rows of the current proof as committed
	-- (their writes wait for our locks on verification), and ours as
	-- this result leaves it. Per row through the primary key of
	-- verification_probe: the view would group every verification
	-- before filtering.
	d AS (
		SELECT g.*, k.dv, k.dby
		FROM g LEFT JOIN LATERAL (
			SELECT q.corroborating >= pol.quorum
				AND q.regions >= pol.min_regions
				AND q.contrary <= verification_contrary_allowed(q.observing) AS dv,
				q.corroborated_by AS dby
			FROM (SELECT count(*) FILTER (WHERE e.corr) AS corroborating,
				count(DISTINCT s.region) FILTER (WHERE e.corr) AS regions,
				count(*) FILTER (WHERE o.contrary_at
					> now() - pol.corroboration_window) AS contrary,
				count(*) FILTER (WHERE o.last_probe_at
					> now() - pol.corroboration_window) AS observing,
				string_agg(o.confirmed_by, ', ' ORDER BY o.perspective)
					FILTER (WHERE e.corr) AS corroborated_by
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
			      LEFT JOIN perspective s ON s.name = o.perspective
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
		-- Both key columns from the batch's lookups: a condition of
		-- x's own ("perspective = ours", 1 row by statistics taken
		-- before it registered) would make x the outer side and the
		-- batch the inner one, rescanned for each of x's rows.
		WHERE x.verification_id = g.id AND x.perspective = g.persp
		RETURNING g.ord, g.id, g.t, g.outcome, g.detail, g.retry, g.source,
			g.rtt, g.server, g.vby, g.outcome IS NULL AS released,
			CASE WHEN g.outcome IS NULL THEN g.retry
			     ELSE extract(epoch FROM g.nxt - now()) END AS next_s,
			g.outcome IS NOT NULL AND g.ncorr IS NOT NULL
			AND g.ncorr = g.t AS corr, g.dv, g.dby)
	SELECT array_agg(ord ORDER BY ord), array_agg(upd.id ORDER BY ord),
		array_agg(t ORDER BY ord), array_agg(outcome ORDER BY ord),
		array_agg(detail ORDER BY ord), array_agg(retry ORDER BY ord),
		array_agg(source ORDER BY ord), array_agg(rtt ORDER BY ord),
		array_agg(upd.server ORDER BY ord),
		array_agg(vby ORDER BY ord), array_agg(next_s ORDER BY ord),
		array_agg(CASE WHEN released THEN NULL ELSE corr END ORDER BY ord),
		array_agg(dv ORDER BY ord), array_agg(dby ORDER BY ord)
	INTO a_ord, a_id, a_at, a_out, a_detail, a_retry, a_source, a_rtt,
		a_server, a_by, a_next, a_corr, a_dv, a_dby
	FROM upd;
	IF a_ord IS NULL THEN
		RETURN;
	END IF;
	-- verification: the summary of the latest attempt (p_audit) and the
	-- transition to verified, one UPDATE per row.
	UPDATE verification x SET
		attempts = CASE WHEN p_audit THEN LEAST(x.attempts::bigint + 1, 1000000)
			ELSE x.attempts END,
		last_probe_at = CASE WHEN p_audit THEN w.at ELSE x.last_probe_at END,
		last_outcome = CASE WHEN p_audit THEN w.outcome ELSE x.last_outcome END,
		last_detail = CASE WHEN p_audit THEN w.detail ELSE x.last_detail END,
		next_probe_at = CASE WHEN p_audit
			THEN now() + w.retry * interval '1 second' ELSE x.next_probe_at END,
		state = CASE WHEN w.dv THEN 'verified' ELSE x.state END,
		verified_at = CASE WHEN w.dv THEN w.at ELSE x.verified_at END,
		verified_by = CASE WHEN w.dv THEN w.dby ELSE x.verified_by END,
		lease_owner = CASE WHEN w.dv THEN NULL ELSE x.lease_owner END,
		lease_token = CASE WHEN w.dv THEN NULL ELSE x.lease_token END,
		lease_until = CASE WHEN w.dv THEN NULL ELSE x.lease_until END
	FROM unnest(a_id, a_at, a_out, a_detail, a_retry, a_corr, a_dv, a_dby)
		AS w(id, at, outcome, detail, retry, c, dv, dby)
	WHERE c IS NOT NULL AND x.id = w.id AND (p_audit OR w.dv);
	IF p_audit THEN
		INSERT INTO probe_attempt (verification_id, attempted_at,
			prober, source_address, outcome, detail, rtt_ms,
			perspective)
		SELECT w.id, w.at, p_prober, w.source, w.outcome, w.detail, w.rtt,
			p_perspective
		FROM unnest(a_id, a_at, a_source, a_out, a_detail, a_rtt, a_corr)
			WITH ORDINALITY AS w(id, at, source, outcome, detail, rtt, c, k)
		WHERE c IS NOT NULL ORDER BY k;
	END IF;
	RETURN QUERY
	SELECT w.id, srv,
		CASE WHEN dv THEN 'verified' ELSE 'pending' END,
		CASE WHEN c IS NULL THEN NULL WHEN dv THEN dby ELSE vb END,
		nx, COALESCE(c, false), c IS NOT NULL
	FROM unnest(a_id, a_server, a_by, a_next, a_corr, a_dv, a_dby)
		WITH ORDINALITY AS w(id, srv, vb, nx, c, dv, dby, k)
	ORDER BY k;
END;
$$;

-- The follow trigger (migration 9) without a join of its two transition
-- tables: their rows in id order, zipped (see the comment inside).
CREATE OR REPLACE FUNCTION verification_probe_follow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
	-- Both transition tables in id order, one array per column: an
	-- UPDATE has one old and one new image of each row it changed, so
	-- position k of each is the same row. No join of the two: they have
	-- no index, and a nested loop over them (which an estimate of "5
	-- pending rows" picks, after an ANALYZE that saw none) costs rows x
	-- rows, 0.8 s for a WRITE of 1,000 (bench/results.md, run M).
	o_id bigint[];
	o_state text[];
	o_pv integer[];
	o_last timestamptz[];
	n_id bigint[];
	n_state text[];
	n_pv integer[];
	n_last timestamptz[];
	n_next timestamptz[];
	left_ids bigint[];    -- rows that left pending
	due_ids bigint[];     -- pending rows due for every perspective now
BEGIN
	SELECT array_agg(id ORDER BY id), array_agg(state ORDER BY id),
	       array_agg(proof_version ORDER BY id),
	       array_agg(last_probe_at ORDER BY id)
	INTO o_id, o_state, o_pv, o_last FROM follow_old;
	SELECT array_agg(id ORDER BY id), array_agg(state ORDER BY id),
	       array_agg(proof_version ORDER BY id),
	       array_agg(last_probe_at ORDER BY id),
	       array_agg(next_probe_at ORDER BY id)
	INTO n_id, n_state, n_pv, n_last, n_next FROM follow_new;
	IF n_id IS NULL THEN
		RETURN NULL;
	END IF;
	IF o_id IS DISTINCT FROM n_id THEN
		RAISE EXCEPTION 'a verification''s id may not change'
			USING ERRCODE = 'NV001';
	END IF;
	-- Which rows need their perspectives' rows changed, worked out on
	-- the arrays alone: for a prober's WRITE (rows that stay pending,
	-- last_probe_at moved) usually none, and then no statement runs.
	SELECT array_agg(w.id ORDER BY w.id) FILTER (WHERE w.os = 'pending'
						      AND w.ns <> 'pending'),
	       array_agg(w.id ORDER BY w.id) FILTER (WHERE w.ns = 'pending'
	       AND (w.npv <> w.opv
		    OR (w.nnext <= now()
			AND w.nlast IS NOT DISTINCT FROM w.olast)))
	INTO left_ids, due_ids
	FROM unnest(n_id, o_state, n_state, o_pv, n_pv, n_next, o_last, n_last)
		AS w(id, os, ns, opv, npv, nnext, olast, nlast);
	-- "= ANY (array)": an index scan of the primary key per id, the one
	-- plan whatever the statistics (a join let the planner start from
	-- "1 active row" after an ANALYZE, and rescan the batch for each of
	-- thousands: 0.35 s per WRITE). "active IS DISTINCT FROM false" is
	-- "active" (NOT NULL) in a form that does not match the partial
	-- index of active rows, which those statistics would also pick.
	IF left_ids IS NOT NULL THEN
		EXECUTE $q$
		UPDATE verification_probe p SET active = false,
			lease_owner = NULL, lease_token = NULL, lease_until = NULL
		WHERE p.verification_id = ANY ($1)
		  AND p.active IS DISTINCT FROM false$q$
		USING left_ids;
	END IF;
	-- Due now: a retry (the web site or an admin set next_probe_at to
	-- now or before) or new proof material.
	IF due_ids IS NOT NULL THEN
		EXECUTE $q$
		UPDATE verification_probe p
		SET next_probe_at = LEAST(p.next_probe_at, now()),
		    lease_owner = CASE WHEN p.lease_until < now() THEN NULL ELSE p.lease_owner END,
		    lease_token = CASE WHEN p.lease_until < now() THEN NULL ELSE p.lease_token END,
		    lease_until = CASE WHEN p.lease_until < now() THEN NULL ELSE p.lease_until END
		WHERE p.verification_id = ANY ($1)
		  AND p.active IS DISTINCT FROM false$q$
		USING due_ids;
	END IF;
	RETURN NULL;
END;
$$;

INSERT INTO schema_version (version, description) VALUES (10, 'round_cost')
	ON CONFLICT DO NOTHING;
