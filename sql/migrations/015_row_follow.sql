-- 015_row_follow: the probers' WRITE stops paying for two triggers that
-- had nothing to do for it (bench/results.md, "Instructions, not time").
--
-- * The AFTER UPDATE triggers on verification that keep the perspectives'
--   rows in step (verification_probe_follow) and wake the probers
--   (verification_notify_due) were per statement, with transition
--   tables: PostgreSQL copied the old and the new version of every row
--   an UPDATE changed, and a WRITE changes every result's verification
--   (the summary of its latest attempt), 1,000 rows, to find the few
--   that left pending or became due. They are per row now, with WHEN
--   conditions that say which changes concern them, so an update they
--   have nothing to do for costs the condition alone. The INSERT's
--   notification stays per statement.
-- * A row made verified by the WRITE (ntpverify_record_set) would enter
--   the follow trigger once per row, a call and an UPDATE each; the WRITE
--   deactivates the other perspectives' rows of the rows it verifies in
--   its own statement instead, and tells the trigger so with the
--   transaction-local setting ntpverify.write_follows (the trust model of
--   migration 12's ntpverify.probe_rows_of_statement: only a role that
--   may update verification can set it to any effect, and then only to
--   leave rows it made verified active; docs/security.md). A row made
--   verified by ntpverify_record_each, by an admin or by hand still
--   has its perspectives' rows deactivated by the trigger.
-- * ntpverify_record_set keeps one generic plan for its statements
--   instead of planning them on every WRITE.
--
-- Measured with bench/record_cost.sh: -7.3 % of the database's
-- instructions in a two-perspective round.

DROP TRIGGER IF EXISTS verification_probe_on_update ON verification;
DROP TRIGGER IF EXISTS verification_due_on_update ON verification;
DROP FUNCTION IF EXISTS verification_probe_follow();
DROP FUNCTION IF EXISTS verification_notify_due_row();

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

-- An update that leaves a row pending, due now and not leased (a retry)
-- wakes the probers (migration 15: per row, entered only for such a row;
-- a transaction's identical notifications are sent once, at commit).
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

-- The trigger functions' search path (migration 14): pg_catalog, the
-- schema, then pg_temp.
DO $$
DECLARE
	f text;
BEGIN
	FOREACH f IN ARRAY ARRAY['verification_probe_follow',
		'verification_notify_due_row'] LOOP
		EXECUTE format('ALTER FUNCTION %I.%I() SET search_path = pg_catalog, %I, pg_temp',
			       current_schema(), f, current_schema());
	END LOOP;
END;
$$;

INSERT INTO schema_version (version, description) VALUES (15, 'row_follow')
	ON CONFLICT DO NOTHING;
