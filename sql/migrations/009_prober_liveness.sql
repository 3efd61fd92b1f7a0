-- 009_prober_liveness: which prober processes run in each perspective,
-- the source addresses each publishes now, and when each was last seen.
-- sql/schema.sql documents the contract.
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
-- verification becomes work for its perspective. Replaces the version of
-- migration 6, which had no prober name.
DROP FUNCTION IF EXISTS ntpverify_register(text, text, inet[]);
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

INSERT INTO schema_version (version, description) VALUES (9, 'prober_liveness')
	ON CONFLICT DO NOTHING;
