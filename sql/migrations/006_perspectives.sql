-- 006_perspectives: corroborated verification. Several network
-- perspectives (sites) probe every pending verification on their own
-- schedule; a row becomes verified only when enough of them agree
-- (verification_policy). sql/schema.sql documents the contract.
--
-- Written to be applied again over itself (IF NOT EXISTS, OR REPLACE):
-- a schema_version row deleted by hand ("downgraded") is put back by
-- `ntpverify migrate` without an error.
--
-- Existing rows keep working: pending rows get a row per perspective as
-- soon as a prober registers its perspective, and the default policy
-- (quorum 1) lets a single prober verify on its own, after
-- `confirmations` probes.

-- Every perspective a prober ever ran in, with the source addresses its
-- probes leave from (the addresses an operator must allow).
CREATE TABLE IF NOT EXISTS perspective (
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

-- The one policy every prober follows.
CREATE TABLE IF NOT EXISTS verification_policy (
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
		AND confirmation_gap * (confirmations - 1) < corroboration_window)
);

INSERT INTO verification_policy DEFAULT VALUES ON CONFLICT DO NOTHING;

-- Which proof the perspectives' counts belong to: bumped whenever the
-- proof material changes, which voids earlier corroborations.
ALTER TABLE verification
	ADD COLUMN IF NOT EXISTS proof_version integer NOT NULL DEFAULT 1;

-- Which perspective made the attempt (NULL: before migration 6).
ALTER TABLE probe_attempt ADD COLUMN IF NOT EXISTS perspective text;

-- One row per (verification, perspective): that perspective's schedule,
-- lease and stance.
CREATE TABLE IF NOT EXISTS verification_probe (
	verification_id bigint NOT NULL
		REFERENCES verification (id) ON DELETE CASCADE,
	perspective text NOT NULL
		REFERENCES perspective (name) ON DELETE CASCADE,
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
);

CREATE INDEX IF NOT EXISTS verification_probe_due
	ON verification_probe (perspective, next_probe_at) WHERE active;

-- A new pending verification is work for every registered perspective.
-- This trigger and the next run with the schema owner's rights, so that
-- the web site's role needs no right on verification_probe (with one it
-- could write corroborations).
CREATE OR REPLACE FUNCTION verification_probe_create() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	INSERT INTO verification_probe (verification_id, perspective,
					proof_version, next_probe_at)
	SELECT n.id, s.name, n.proof_version, n.next_probe_at
	FROM changed_rows n CROSS JOIN perspective s
	WHERE n.state = 'pending'
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS verification_probe_on_insert ON verification;
CREATE TRIGGER verification_probe_on_insert
	AFTER INSERT ON verification
	REFERENCING NEW TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION verification_probe_create();

-- New proof material voids what the perspectives have seen so far.
CREATE OR REPLACE FUNCTION verification_proof_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.token IS DISTINCT FROM OLD.token
	   OR NEW.method IS DISTINCT FROM OLD.method
	   OR NEW.key_id IS DISTINCT FROM OLD.key_id
	   OR NEW.key_type IS DISTINCT FROM OLD.key_type
	   OR NEW.key_secret IS DISTINCT FROM OLD.key_secret THEN
		NEW.proof_version := OLD.proof_version + 1;
	END IF;
	RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS verification_proof_on_update ON verification;
CREATE TRIGGER verification_proof_on_update
	BEFORE UPDATE ON verification
	FOR EACH ROW EXECUTE FUNCTION verification_proof_bump();

-- Keep the perspectives' rows in step with the verification: a row that
-- left pending is no longer work; a retry (next_probe_at set to now() by
-- the web site or an admin: an update that is not a prober's result, which
-- always moves last_probe_at) or new proof material makes it due for every
-- perspective now.
CREATE OR REPLACE FUNCTION verification_probe_follow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	IF OLD.state = 'pending' AND NEW.state <> 'pending' THEN
		UPDATE verification_probe SET active = false, lease_owner = NULL,
			lease_token = NULL, lease_until = NULL
		WHERE verification_id = NEW.id AND active;
	ELSIF NEW.state = 'pending'
	      AND (NEW.proof_version <> OLD.proof_version
		   OR (NEW.next_probe_at <= now()
		       AND NEW.last_probe_at IS NOT DISTINCT FROM OLD.last_probe_at)) THEN
		UPDATE verification_probe
		SET next_probe_at = LEAST(next_probe_at,
			CASE WHEN NEW.proof_version <> OLD.proof_version
			     THEN now() ELSE NEW.next_probe_at END),
		    lease_owner = CASE WHEN lease_until < now() THEN NULL ELSE lease_owner END,
		    lease_token = CASE WHEN lease_until < now() THEN NULL ELSE lease_token END,
		    lease_until = CASE WHEN lease_until < now() THEN NULL ELSE lease_until END
		WHERE verification_id = NEW.id AND active;
	END IF;
	RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS verification_probe_on_update ON verification;
CREATE TRIGGER verification_probe_on_update
	AFTER UPDATE ON verification
	FOR EACH ROW EXECUTE FUNCTION verification_probe_follow();

-- Quorum progress per verification, for the probers' decision, the admin
-- commands and the web site. Only the perspectives' rows of the current
-- proof count, and only within the corroboration window.
CREATE OR REPLACE VIEW verification_progress AS
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
CREATE OR REPLACE FUNCTION verification_contrary_allowed(observing bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN observing < 2 THEN 0 WHEN observing <= 5 THEN 1 ELSE 2 END::bigint
$$;

-- A prober registers its perspective at start-up and after each
-- reconnect; every pending verification becomes work for it.
CREATE OR REPLACE FUNCTION ntpverify_register(p_name text, p_region text,
				   p_sources inet[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO perspective AS s (name, region, source_addresses)
	VALUES (p_name, p_region, p_sources)
	ON CONFLICT (name) DO UPDATE SET region = EXCLUDED.region,
		source_addresses = ARRAY(SELECT DISTINCT a FROM unnest(
			s.source_addresses || EXCLUDED.source_addresses) a ORDER BY a),
		last_seen = now();
	INSERT INTO verification_probe (verification_id, perspective,
					proof_version, next_probe_at)
	SELECT v.id, p_name, v.proof_version, v.next_probe_at
	FROM verification v WHERE v.state = 'pending'
	ON CONFLICT DO NOTHING;
END;
$$;

-- The quorum decision for one pending, locked verification: verified when
-- enough perspectives corroborate the current proof. Returns the new state.
CREATE OR REPLACE FUNCTION ntpverify_decide(p_id bigint, p_at timestamptz) RETURNS text
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
CREATE OR REPLACE FUNCTION ntpverify_stance(p verification_probe, v verification,
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

-- The probers' WRITE: a batch of results of one perspective, applied and
-- decided atomically. Rows are locked in id order first, so perspectives
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
	t timestamptz;
	nxt timestamptz;
BEGIN
	SELECT * INTO pol FROM verification_policy;
	PERFORM 1 FROM verification x WHERE x.id = ANY (r_id)
		ORDER BY x.id FOR UPDATE;
	FOR r IN SELECT * FROM unnest(r_id, r_lease, r_outcome, r_detail,
		r_source, r_rtt, r_at, r_retry, r_contrary, r_version)
		AS u(id, lease, outcome, detail, source, rtt, at, retry,
		     contrary, version)
	LOOP
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
		IF p_audit THEN
			UPDATE verification x SET
				attempts = LEAST(x.attempts::bigint + 1, 1000000),
				last_probe_at = t, last_outcome = r.outcome,
				last_detail = r.detail,
				next_probe_at = now() + r.retry * interval '1 second'
			WHERE x.id = r.id;
			INSERT INTO probe_attempt (verification_id, attempted_at,
				prober, source_address, outcome, detail, rtt_ms,
				perspective)
			VALUES (r.id, t, p_prober, r.source, r.outcome, r.detail,
				r.rtt, p_perspective);
		END IF;
		id := r.id; server := host(v.server_ip);
		state := ntpverify_decide(r.id, t);
		SELECT x.verified_by INTO verified_by FROM verification x
		WHERE x.id = r.id;
		next_in := extract(epoch FROM nxt - now());
		-- This result made the perspective corroborate (not before).
		corroborated := p.corroborated_at IS NOT NULL
			AND p.corroborated_at = t;
		decided := true;
		RETURN NEXT;
	END LOOP;
END;
$$;

INSERT INTO schema_version (version, description) VALUES (6, 'perspectives')
	ON CONFLICT DO NOTHING;
