-- 009_liveness_batch_write: which prober processes run in each
-- perspective, the source addresses each publishes now, and when each was
-- last seen; and the probers' WRITE with one UPDATE of verification per
-- batch instead of one per result. sql/schema.sql documents the contract.
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

-- The probers' WRITE, as in migration 6 but with the verification rows
-- written once per batch instead of once per result: an UPDATE of
-- verification costs about 0.2-0.3 ms each (its indexes, its triggers),
-- which capped two perspectives at under 1,000 verifications a second.
-- The loop applies each result to our perspective's row and takes the
-- quorum decision as before (rows locked in id order first, so each
-- decision sees every corroboration committed before it); the summary
-- columns, the audit rows and the transitions to verified follow in three
-- statements. The rules and the returned rows are those of migration 6.
CREATE OR REPLACE FUNCTION ntpverify_record(p_perspective text, p_prober text,
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

INSERT INTO schema_version (version, description) VALUES (9, 'liveness_batch_write')
	ON CONFLICT DO NOTHING;
