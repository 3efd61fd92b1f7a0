-- 014_expiry_by_probers: only the probers (and the schema's owner) make a
-- verification expired. The web site's role may UPDATE state to cancel a
-- row (sql/schema.sql "Who writes what"); the CHECKs keep it from making a
-- row verified or awaiting approval, and migration 13 from leaving a final
-- state, but it could still set a pending row (or one awaiting approval)
-- to 'expired': a state that says the operator ran out of time, which the
-- pool's history and metrics then count, written by a role whose right is
-- to cancel. Expiry is the probers' judgement (expires_at and their
-- retry.expiry), so it now takes a role that may write the perspectives'
-- rows: the probers' (docs/admins.md grants it UPDATE on
-- verification_probe, the web site nothing there) or the owner's.
--
-- Written to be applied again over itself (OR REPLACE, IF EXISTS).

CREATE OR REPLACE FUNCTION verification_expiry_by_probers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	-- The table of this trigger's schema, whatever the caller's
	-- search_path names.
	IF has_table_privilege(current_user,
			       format('%I.verification_probe', TG_TABLE_SCHEMA),
			       'UPDATE') THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'verification % is %: only the probers make a row expired (cancel it instead)',
		OLD.id, OLD.state USING ERRCODE = 'NV001';
END;
$$;

DROP TRIGGER IF EXISTS verification_expiry_on_update ON verification;
CREATE TRIGGER verification_expiry_on_update
	BEFORE UPDATE OF state ON verification
	FOR EACH ROW -- plpgsql is entered only for a row becoming expired
	WHEN (NEW.state = 'expired' AND OLD.state IS DISTINCT FROM 'expired')
	EXECUTE FUNCTION verification_expiry_by_probers();

INSERT INTO schema_version (version, description) VALUES (14, 'expiry_by_probers')
	ON CONFLICT DO NOTHING;
