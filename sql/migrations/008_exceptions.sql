-- 008_exceptions: the exception process for servers no NTP method can
-- reach (OpenNTPD, appliances). An admin links a pending verification to
-- a neighbour that an NTP method verified (indirect proof), or approves a
-- pending row checked out of band (manual proof); nothing is verified by
-- an exception without an admin's explicit command, and every action is
-- recorded in verification_exception. sql/schema.sql documents the
-- contract; docs/admins.md how to judge a request.
--
-- Written to be applied again over itself (IF NOT EXISTS, OR REPLACE).
-- Existing rows keep working: they were all proven, or are to be proven,
-- by NTP (proof 'ntp', the default).

-- A row linked to a neighbour waits for an admin: no prober leases it
-- (the lease statement and verification_probe_follow act on 'pending'
-- only) and it does not expire while it waits.
ALTER TABLE verification DROP CONSTRAINT IF EXISTS verification_state_known;
ALTER TABLE verification ADD CONSTRAINT verification_state_known CHECK (
	state IN ('pending', 'awaiting_approval', 'verified', 'expired',
		  'cancelled'));

-- How the row is proven: 'ntp' by the probers (the quorum), 'indirect' by
-- an admin's approval of a link to a neighbour, 'manual' by an admin's
-- approval of an out-of-band check.
ALTER TABLE verification ADD COLUMN IF NOT EXISTS proof text NOT NULL DEFAULT 'ntp';
ALTER TABLE verification DROP CONSTRAINT IF EXISTS verification_proof_known;
ALTER TABLE verification ADD CONSTRAINT verification_proof_known CHECK (
	proof IN ('ntp', 'indirect', 'manual'));
-- A pending row is to be proven by NTP, a row awaiting approval by its
-- link: only the functions below, which set both, move a row between the
-- two, never a role that may change state but not proof (the web site's).
ALTER TABLE verification DROP CONSTRAINT IF EXISTS verification_proof_state;
ALTER TABLE verification ADD CONSTRAINT verification_proof_state CHECK (
	CASE state WHEN 'pending' THEN proof = 'ntp'
		   WHEN 'awaiting_approval' THEN proof = 'indirect'
		   ELSE true END);

-- One open row per address: a row awaiting approval is still open, so the
-- web site cannot start a second verification beside it.
DROP INDEX IF EXISTS verification_one_pending;
CREATE UNIQUE INDEX verification_one_pending
	ON verification (server_ip)
	WHERE state IN ('pending', 'awaiting_approval');

-- The exception counts of the probers' poll (`ntpverify_exception_rows`)
-- read only the few exception rows.
CREATE INDEX IF NOT EXISTS verification_by_exception
	ON verification (state) WHERE proof <> 'ntp';

-- Every exception action, never updated or deleted by ntpverify: who
-- (the name the admin gave, and the database role that ran it), when,
-- why, and on what evidence (the neighbour's row as it was then: its id,
-- address, method, and when and by whom it was verified).
CREATE TABLE IF NOT EXISTS verification_exception (
	id bigserial PRIMARY KEY,
	verification_id bigint NOT NULL
		REFERENCES verification (id) ON DELETE CASCADE,
	action text NOT NULL,
	admin text NOT NULL,
	db_role text NOT NULL DEFAULT session_user,
	at timestamptz NOT NULL DEFAULT now(),
	reason text NOT NULL,
	state_before text NOT NULL,
	state_after text NOT NULL,
	prefix_length integer,
	evidence_id bigint,
	evidence_server inet,
	evidence_method text,
	evidence_verified_at timestamptz,
	evidence_verified_by text,

	CONSTRAINT verification_exception_action_known CHECK (
		action IN ('link', 'approve', 'reject')),
	CONSTRAINT verification_exception_admin_text CHECK (
		admin ~ '^[[:graph:]][[:print:]]{0,63}$'),
	CONSTRAINT verification_exception_reason_text CHECK (
		length(btrim(reason)) BETWEEN 3 AND 1000)
);

CREATE INDEX IF NOT EXISTS verification_exception_by_verification
	ON verification_exception (verification_id, at);

-- Refusals raise SQLSTATE NV001 with one line saying why; the admin
-- commands report it as a negative answer (exit 1). Nothing is changed.
CREATE OR REPLACE FUNCTION ntpverify_refuse(p_msg text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'NV001', MESSAGE = p_msg;
END;
$$;

-- The admin's name (the one given, else the database role), after
-- refusing an action without a reason.
CREATE OR REPLACE FUNCTION ntpverify_admin_name(p_admin text, p_reason text)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF p_reason IS NULL OR length(btrim(p_reason)) NOT BETWEEN 3 AND 1000 THEN
		PERFORM ntpverify_refuse('a reason of 3 to 1000 characters is required');
	END IF;
	RETURN coalesce(nullif(btrim(p_admin), ''), session_user::text);
END;
$$;

-- Whether neighbour n is evidence for row v: verified by an NTP method
-- (not itself an exception), of the same family, within the same /len.
-- NULL when it is, else the refusal.
CREATE OR REPLACE FUNCTION ntpverify_evidence_fault(v verification,
	n verification, p_len integer) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF n.id IS NULL THEN
		RETURN 'the neighbour verification does not exist';
	ELSIF n.id = v.id THEN
		RETURN 'a verification cannot be its own evidence';
	ELSIF n.server_ip = v.server_ip THEN
		-- An earlier verification of the same address proves an
		-- earlier request, maybe by an earlier holder of the address.
		RETURN format('neighbour %s is the same address (%s): an '
			      'earlier verification is no evidence for this one',
			      n.id, host(n.server_ip));
	ELSIF n.state <> 'verified' THEN
		RETURN format('neighbour %s (%s) is %s, not verified', n.id,
			      host(n.server_ip), n.state);
	ELSIF n.proof <> 'ntp' THEN
		RETURN format('neighbour %s (%s) was verified by exception '
			      '(%s), not by an NTP method', n.id,
			      host(n.server_ip), n.proof);
	ELSIF family(n.server_ip) <> family(v.server_ip) THEN
		RETURN format('neighbour %s (%s) is IPv%s, %s is IPv%s', n.id,
			      host(n.server_ip), family(n.server_ip),
			      host(v.server_ip), family(v.server_ip));
	ELSIF network(set_masklen(n.server_ip, p_len))
	      <> network(set_masklen(v.server_ip, p_len)) THEN
		RETURN format('neighbour %s (%s) is not in %s', n.id,
			      host(n.server_ip),
			      network(set_masklen(v.server_ip, p_len)));
	END IF;
	RETURN NULL;
END;
$$;

-- Link pending verification p_id to neighbour p_evidence (indirect proof):
-- the row moves to awaiting_approval. p_len NULL: /24 for IPv4, /64 for
-- IPv6; an admin may give another length (IPv4 16..32, IPv6 32..128),
-- and the audit row records the one judged. Returns the row's address,
-- the neighbour's and the network.
CREATE OR REPLACE FUNCTION ntpverify_link(p_id bigint, p_evidence bigint,
	p_admin text, p_reason text, p_len integer)
RETURNS TABLE (server text, neighbour text, network text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v verification;
	n verification;
	who text := ntpverify_admin_name(p_admin, p_reason);
	len integer;
	fault text;
BEGIN
	-- Both rows locked in id order: two admins linking at once serialise.
	PERFORM 1 FROM verification x WHERE x.id IN (p_id, p_evidence)
		ORDER BY x.id FOR UPDATE;
	SELECT * INTO v FROM verification x WHERE x.id = p_id;
	IF NOT FOUND THEN
		PERFORM ntpverify_refuse(format('no verification with id %s', p_id));
	END IF;
	IF v.state <> 'pending' THEN
		PERFORM ntpverify_refuse(format('verification %s is %s, not pending',
						p_id, v.state));
	END IF;
	IF v.expires_at <= now() THEN
		PERFORM ntpverify_refuse(format('verification %s expired at %s: '
			'start a new one', p_id, v.expires_at));
	END IF;
	len := coalesce(p_len, CASE family(v.server_ip) WHEN 4 THEN 24 ELSE 64 END);
	IF (family(v.server_ip) = 4 AND len NOT BETWEEN 16 AND 32)
	   OR (family(v.server_ip) = 6 AND len NOT BETWEEN 32 AND 128) THEN
		PERFORM ntpverify_refuse(format('prefix length %s is out of range '
			'for IPv%s (IPv4 16..32, IPv6 32..128)', len,
			family(v.server_ip)));
	END IF;
	SELECT * INTO n FROM verification x WHERE x.id = p_evidence;
	fault := ntpverify_evidence_fault(v, n, len);
	IF fault IS NOT NULL THEN
		PERFORM ntpverify_refuse(fault);
	END IF;
	UPDATE verification x SET state = 'awaiting_approval', proof = 'indirect',
		lease_owner = NULL, lease_token = NULL, lease_until = NULL
	WHERE x.id = p_id;
	INSERT INTO verification_exception (verification_id, action, admin,
		reason, state_before, state_after, prefix_length, evidence_id,
		evidence_server, evidence_method, evidence_verified_at,
		evidence_verified_by)
	VALUES (p_id, 'link', who, p_reason,
		'pending', 'awaiting_approval', len, n.id, n.server_ip,
		n.method, n.verified_at, n.verified_by);
	server := host(v.server_ip);
	neighbour := host(n.server_ip);
	network := network(set_masklen(v.server_ip, len))::text;
	RETURN NEXT;
END;
$$;

-- Approve p_id: a row awaiting approval (its link's evidence is checked
-- again) becomes verified by 'indirect' proof, a pending row (checked out
-- of band) by 'manual' proof. Returns the address and verified_by.
CREATE OR REPLACE FUNCTION ntpverify_approve(p_id bigint, p_admin text,
	p_reason text)
RETURNS TABLE (server text, proof text, verified_by text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v verification;
	n verification;
	l verification_exception;
	who text := ntpverify_admin_name(p_admin, p_reason);
	fault text;
	summary text;
BEGIN
	SELECT * INTO v FROM verification x WHERE x.id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM ntpverify_refuse(format('no verification with id %s', p_id));
	END IF;
	IF v.state NOT IN ('pending', 'awaiting_approval') THEN
		PERFORM ntpverify_refuse(format('verification %s is %s, not '
			'pending or awaiting approval', p_id, v.state));
	END IF;
	IF v.state = 'pending' AND v.expires_at <= now() THEN
		PERFORM ntpverify_refuse(format('verification %s expired at %s: '
			'start a new one', p_id, v.expires_at));
	END IF;
	IF v.state = 'awaiting_approval' THEN
		SELECT * INTO l FROM verification_exception e
		WHERE e.verification_id = p_id AND e.action = 'link'
		ORDER BY e.id DESC LIMIT 1;
		SELECT * INTO n FROM verification x WHERE x.id = l.evidence_id
			FOR SHARE;
		fault := ntpverify_evidence_fault(v, n, l.prefix_length);
		IF fault IS NOT NULL THEN
			PERFORM ntpverify_refuse(fault || ': not approved; '
				'reject the link');
		END IF;
		summary := format('exception: indirect, approved by %s (neighbour %s %s)',
			     who, n.id, host(n.server_ip));
	ELSE
		summary := format('exception: manual, approved by %s', who);
	END IF;
	UPDATE verification x SET state = 'verified', verified_at = now(),
		verified_by = summary,
		proof = CASE WHEN v.state = 'pending' THEN 'manual' ELSE 'indirect' END,
		lease_owner = NULL, lease_token = NULL, lease_until = NULL
	WHERE x.id = p_id;
	INSERT INTO verification_exception (verification_id, action, admin,
		reason, state_before, state_after, prefix_length, evidence_id,
		evidence_server, evidence_method, evidence_verified_at,
		evidence_verified_by)
	VALUES (p_id, 'approve', who, p_reason, v.state, 'verified',
		l.prefix_length, n.id, n.server_ip, n.method, n.verified_at,
		n.verified_by);
	server := host(v.server_ip);
	proof := CASE WHEN v.state = 'pending' THEN 'manual' ELSE 'indirect' END;
	verified_by := summary;
	RETURN NEXT;
END;
$$;

-- Reject p_id: a row awaiting approval goes back to pending (the NTP
-- methods may still verify it; every perspective probes it again now); a
-- pending row stays pending, the refusal of an out-of-band request on
-- record. Returns the address and the state after.
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

INSERT INTO schema_version (version, description) VALUES (8, 'exceptions')
	ON CONFLICT DO NOTHING;
