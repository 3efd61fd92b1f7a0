-- 009_liveness_batch_write: which prober processes run in each
-- perspective, the source addresses each publishes now, and when each was
-- last seen; and the probers' WRITE set-based (one statement per step for
-- a whole batch, not six per result), with the triggers on verification
-- that it fires: the proof bump only when proof material changed, the
-- perspectives' rows following once per statement. sql/schema.sql
-- documents the contract.
--
-- Before this migration a perspective's source_addresses only grew (every
-- registration added its addresses to the old ones) and last_seen moved
-- only when a prober connected. Now every process has its own row,
-- replaced at each registration, refreshed while it runs (every
-- queue.poll_interval, clamped to 10..60 s); the
-- perspective's source_addresses is the union of its processes' addresses
-- seen within the last 7 days, and its last_seen the latest of theirs.
--
-- Written to be applied again over itself (IF NOT EXISTS, OR REPLACE).
-- Existing perspectives keep their addresses until one of their probers
-- registers again.

CREATE TABLE IF NOT EXISTS perspective_prober (
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

-- A prober process is alive: record it, the addresses it publishes now
-- (replacing what it published before) and the time; recompute its
-- perspective's addresses from the processes seen within 7 days.
CREATE OR REPLACE FUNCTION ntpverify_seen(p_name text, p_region text,
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
-- verification becomes work for its perspective.
CREATE OR REPLACE FUNCTION ntpverify_register(p_name text, p_region text,
				   p_sources inet[], p_prober text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ntpverify_seen(p_name, p_region, p_sources, p_prober);
	INSERT INTO verification_probe (verification_id, perspective,
					proof_version, next_probe_at)
	SELECT v.id, p_name, v.proof_version, v.next_probe_at
	FROM verification v WHERE v.state = 'pending'
	ON CONFLICT DO NOTHING;
END;
$$;

-- Migration 6's registration, without a prober name (older scripts, by
-- hand): recorded as a process named after the perspective.
CREATE OR REPLACE FUNCTION ntpverify_register(p_name text, p_region text,
				   p_sources inet[]) RETURNS void
LANGUAGE sql AS $$
	SELECT ntpverify_register(p_name, p_region, p_sources, p_name)
$$;

-- The running prober's periodic sign of life. A perspective row deleted
-- meanwhile (and with it its work) is registered again in full.
CREATE OR REPLACE FUNCTION ntpverify_heartbeat(p_name text, p_region text,
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

-- The triggers on verification: the proof bump enters plpgsql only when
-- proof material changed (a WHEN clause; before, every UPDATE of the row,
-- the probers' two per verification included, ran the function), and the
-- perspectives' rows follow once per statement, set-based, instead of one
-- UPDATE of verification_probe per row (bench/results.md: 0.8 s of the
-- 4.8 s the WRITEs of 10,000 rows took, two perspectives).
DROP TRIGGER IF EXISTS verification_proof_on_update ON verification;
CREATE TRIGGER verification_proof_on_update
	BEFORE UPDATE ON verification
	FOR EACH ROW
	WHEN (NEW.token IS DISTINCT FROM OLD.token
	      OR NEW.method IS DISTINCT FROM OLD.method
	      OR NEW.key_id IS DISTINCT FROM OLD.key_id
	      OR NEW.key_type IS DISTINCT FROM OLD.key_type
	      OR NEW.key_secret IS DISTINCT FROM OLD.key_secret
	      OR NEW.refid_code IS DISTINCT FROM OLD.refid_code)
	EXECUTE FUNCTION verification_proof_bump();

-- Keep the perspectives' rows in step with the verifications a statement
-- updated: a row that left pending is no longer work; a retry
-- (next_probe_at set to now() by the web site or an admin: an update that
-- is not a prober's result, which always moves last_probe_at) or new proof
-- material makes it due for every perspective now.
CREATE OR REPLACE FUNCTION verification_probe_follow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	-- EXECUTE: planned for this statement's rows. A static statement
	-- would keep the plan of the session's first call, whose row counts
	-- may be nothing like this one's (planned after an empty UPDATE, it
	-- joined the 1,000 rows of the next by nested loop: 0.8 s, not 0.05).
	EXECUTE $q$
	UPDATE verification_probe p SET active = false, lease_owner = NULL,
		lease_token = NULL, lease_until = NULL
	FROM follow_old o JOIN follow_new n ON n.id = o.id
	WHERE p.verification_id = n.id AND p.active
	  AND o.state = 'pending' AND n.state <> 'pending'$q$;
	EXECUTE $q$
	UPDATE verification_probe p
	SET next_probe_at = LEAST(p.next_probe_at,
		CASE WHEN n.proof_version <> o.proof_version
		     THEN now() ELSE n.next_probe_at END),
	    lease_owner = CASE WHEN p.lease_until < now() THEN NULL ELSE p.lease_owner END,
	    lease_token = CASE WHEN p.lease_until < now() THEN NULL ELSE p.lease_token END,
	    lease_until = CASE WHEN p.lease_until < now() THEN NULL ELSE p.lease_until END
	FROM follow_old o JOIN follow_new n ON n.id = o.id
	WHERE p.verification_id = n.id AND p.active
	  AND n.state = 'pending'
	  AND (n.proof_version <> o.proof_version
	       OR (n.next_probe_at <= now()
		   AND n.last_probe_at IS NOT DISTINCT FROM o.last_probe_at))$q$;
	RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS verification_probe_on_update ON verification;
CREATE TRIGGER verification_probe_on_update
	AFTER UPDATE ON verification
	REFERENCING OLD TABLE AS follow_old NEW TABLE AS follow_new
	FOR EACH STATEMENT EXECUTE FUNCTION verification_probe_follow();

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
CREATE OR REPLACE FUNCTION ntpverify_record_each(p_perspective text, p_prober text,
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

-- The probers' WRITE set-based: a batch of results of one perspective,
-- applied and decided atomically by the rules of migration 6's
-- ntpverify_record (sql/schema.sql describes them, docs/security.md the
-- stance), one statement per step for the whole batch instead of six per
-- result. No row may appear twice in the batch.
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
	j AS (
		SELECT u.*, to_timestamp(u.at) AS t, host(v.server_ip) AS server,
			v.verified_by AS vby, v.proof_version AS vpv,
			p.proof_version AS ppv, p.confirmations AS pconf,
			p.first_confirmed_at AS pfirst, p.last_confirmed_at AS plast,
			p.confirmed_by AS pby, p.corroborated_at AS pcorr,
			p.contrary_at AS pcon_at, p.contrary_outcome AS pcon_out
		FROM u
		JOIN verification v ON v.id = u.id AND v.state = 'pending'
		JOIN verification_probe p ON p.verification_id = u.id
			AND p.perspective = p_perspective
		WHERE p.lease_token IS NOT DISTINCT FROM u.lease
		   OR (u.outcome = 'verified'
		       AND (p.last_probe_at IS NULL
			    OR p.last_probe_at < to_timestamp(u.at)))),
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
	upd AS (
		UPDATE verification_probe x SET
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
		FROM g
		WHERE x.verification_id = g.id AND x.perspective = p_perspective
		RETURNING g.ord, g.id, g.t, g.outcome, g.detail, g.retry, g.source,
			g.rtt, g.server, g.vby, g.outcome IS NULL AS released,
			CASE WHEN g.outcome IS NULL THEN g.retry
			     ELSE extract(epoch FROM g.nxt - now()) END AS next_s,
			g.outcome IS NOT NULL AND g.ncorr IS NOT NULL
			AND g.ncorr = g.t AS corr)
	SELECT array_agg(ord ORDER BY ord), array_agg(upd.id ORDER BY ord),
		array_agg(t ORDER BY ord), array_agg(outcome ORDER BY ord),
		array_agg(detail ORDER BY ord), array_agg(retry ORDER BY ord),
		array_agg(source ORDER BY ord), array_agg(rtt ORDER BY ord),
		array_agg(upd.server ORDER BY ord),
		array_agg(vby ORDER BY ord), array_agg(next_s ORDER BY ord),
		array_agg(CASE WHEN released THEN NULL ELSE corr END ORDER BY ord)
	INTO a_ord, a_id, a_at, a_out, a_detail, a_retry, a_source, a_rtt,
		a_server, a_by, a_next, a_corr
	FROM upd;
	IF a_ord IS NULL THEN
		RETURN;
	END IF;
	-- The quorum decision (ntpverify_decide's rule, over the rows
	-- verification_progress would count) for the rows with a result: it
	-- sees every corroboration, ours just written included, and counts
	-- against the policy read above. Per row through the primary key of
	-- verification_probe, in the order of a_id: the view would group
	-- every verification before filtering.
	SELECT array_agg(d.dv ORDER BY w.k), array_agg(d.dby ORDER BY w.k)
	INTO a_dv, a_dby
	FROM unnest(a_id, a_corr) WITH ORDINALITY AS w(id, c, k)
	LEFT JOIN LATERAL (
		SELECT g.corroborating >= pol.quorum AND g.regions >= pol.min_regions
			AND g.contrary <= verification_contrary_allowed(g.observing) AS dv,
			g.corroborated_by AS dby
		FROM (SELECT count(*) FILTER (WHERE e.corr) AS corroborating,
			count(DISTINCT s.region) FILTER (WHERE e.corr) AS regions,
			count(*) FILTER (WHERE p.contrary_at
				> now() - pol.corroboration_window) AS contrary,
			count(*) FILTER (WHERE p.last_probe_at
				> now() - pol.corroboration_window) AS observing,
			string_agg(p.confirmed_by, ', ' ORDER BY p.perspective)
				FILTER (WHERE e.corr) AS corroborated_by
		      FROM verification v
		      JOIN verification_probe p ON p.verification_id = v.id
			AND p.proof_version = v.proof_version
		      LEFT JOIN perspective s ON s.name = p.perspective
		      CROSS JOIN LATERAL (SELECT p.corroborated_at IS NOT NULL
			AND p.last_confirmed_at > now() - pol.corroboration_window
			AS corr) e
		      WHERE v.id = w.id) g) d ON w.c IS NOT NULL;
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

-- The probers' WRITE (store_sql_write). A batch of 32 results or more
-- goes set-based (ntpverify_record_set); a smaller one, or one with a row
-- twice, one result at a time (ntpverify_record_each): for a few results
-- the loop was faster (bench/results.md: a single row verified by two
-- perspectives in ~15 ms rather than ~30 ms). Both apply the same rules,
-- and tests/integration/quorum_record.sh checks that they agree.
CREATE OR REPLACE FUNCTION ntpverify_record(p_perspective text, p_prober text,
	p_audit boolean, r_id bigint[], r_lease uuid[], r_outcome text[],
	r_detail text[], r_source inet[], r_rtt float8[], r_at float8[],
	r_retry float8[], r_contrary boolean[], r_version integer[])
RETURNS TABLE (id bigint, server text, state text, verified_by text,
	       next_in float8, corroborated boolean, decided boolean)
LANGUAGE plpgsql AS $$
BEGIN
	IF cardinality(r_id) < 32
	   OR (SELECT count(DISTINCT x) FROM unnest(r_id) x) < cardinality(r_id) THEN
		RETURN QUERY SELECT * FROM ntpverify_record_each(p_perspective,
			p_prober, p_audit, r_id, r_lease, r_outcome, r_detail,
			r_source, r_rtt, r_at, r_retry, r_contrary, r_version);
	ELSE
		RETURN QUERY SELECT * FROM ntpverify_record_set(p_perspective,
			p_prober, p_audit, r_id, r_lease, r_outcome, r_detail,
			r_source, r_rtt, r_at, r_retry, r_contrary, r_version);
	END IF;
END;
$$;

INSERT INTO schema_version (version, description) VALUES (9, 'liveness_batch_write')
	ON CONFLICT DO NOTHING;
