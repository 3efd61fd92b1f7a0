-- 013_final_states: a verified, expired or cancelled verification stays
-- so. The web site's role may UPDATE state (to cancel, sql/schema.sql "Who
-- writes what"), and the CHECKs already keep it from making a row
-- verified or awaiting approval; but it could move a finished row back to
-- pending (a cancelled or expired one, or a verified one with its
-- verified_at still set), which no prober then probes again and which
-- rewrote the history the pool keeps. No path of the probers or of the
-- exception functions leaves a final state. The schema's owner (and a
-- superuser) still may, as it may drop the trigger: for repairs by hand.
--
-- Written to be applied again over itself (OR REPLACE, IF EXISTS).

CREATE OR REPLACE FUNCTION verification_state_final() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF pg_has_role(current_user, (SELECT c.relowner FROM pg_class c
				      WHERE c.oid = TG_RELID), 'USAGE') THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'verification % is %, which is final: it cannot become %',
		OLD.id, OLD.state, NEW.state USING ERRCODE = 'NV001';
END;
$$;

DROP TRIGGER IF EXISTS verification_state_final_on_update ON verification;
CREATE TRIGGER verification_state_final_on_update
	BEFORE UPDATE OF state ON verification
	FOR EACH ROW -- plpgsql is entered only for a change out of a final state
	WHEN (OLD.state IN ('verified', 'expired', 'cancelled')
	      AND NEW.state IS DISTINCT FROM OLD.state)
	EXECUTE FUNCTION verification_state_final();

INSERT INTO schema_version (version, description) VALUES (13, 'final_states')
	ON CONFLICT DO NOTHING;
