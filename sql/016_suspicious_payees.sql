-- Suspicious payees (CONTRACT.md v1.2, "The fraud chain at the payout";
-- docs/fraud.md): the cards, accounts and wallets that the National Bank's
-- anti-fraud centre lists as used by money mules, as a connector (role
-- antifraud) or an import reports them. The registry has the voluntary
-- refusal registry's semantics (sql/007): one row per change, flagged
-- (active) or withdrawn, in effect from effective_at (past or future), in
-- arrival order (seq), never changed or removed.
--
-- An expand migration: tables, functions, a role name and event types that
-- the previous release does not use.

CREATE TABLE suspicious_payee (
    seq           bigserial PRIMARY KEY,               -- the arrival order
    kind          text NOT NULL CHECK (kind IN ('account', 'card', 'wallet')),
    id            text NOT NULL CHECK (id ~ '^[A-Za-z0-9._:-]{1,64}$' AND id NOT IN ('.', '..')),
    active        boolean NOT NULL,
    effective_at  timestamptz NOT NULL,
    source        text NOT NULL CHECK (source ~ '^[A-Za-z0-9._:-]{1,64}$'
                                       AND source NOT IN ('.', '..')),
    reference     text CHECK (char_length(reference) BETWEEN 1 AND 200),
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    -- a card is the lender's token or hash of it, never its number
    CHECK (kind <> 'card' OR id !~ '^[0-9]{13,19}$'),
    -- a change reported again (same active, effective_at, source) is the
    -- same change: it is kept once, with the reference that came first
    UNIQUE (kind, id, active, effective_at, source)
);

-- "Is this payee flagged at t" is one descent of this index, however many
-- payees are listed: the latest change not after t; index-only.
CREATE INDEX suspicious_payee_state_idx
    ON suspicious_payee (kind, id, effective_at DESC, seq DESC) INCLUDE (active);

CREATE FUNCTION cd_payee_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the suspicious payee registry is append-only: % on % refused',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER suspicious_payee_append_only BEFORE UPDATE OR DELETE ON suspicious_payee
    FOR EACH ROW EXECUTE FUNCTION cd_payee_refuse_change();
CREATE TRIGGER suspicious_payee_no_truncate BEFORE TRUNCATE ON suspicious_payee
    FOR EACH STATEMENT EXECUTE FUNCTION cd_payee_refuse_change();

-- The state at a moment; the C twin is refusal_in_force() (lib/refusal.c)
-- on the payee's changes, as for a refusal. A NULL kind or id (a payout
-- without a payee) is flagged never.
CREATE FUNCTION cd_payee_flagged_at(p_kind text, p_id text, p_at timestamptz) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce((SELECT s.active FROM suspicious_payee s
                      WHERE s.kind = p_kind AND s.id = p_id AND s.effective_at <= p_at
                      ORDER BY s.effective_at DESC, s.seq DESC LIMIT 1), false);

CREATE FUNCTION cd_payee_flagged(p_kind text, p_id text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN cd_payee_flagged_at(p_kind, p_id, now());

-- Changes of a payee and payouts to it are ordered as refusals and payouts
-- of a borrower are (sql/007): an advisory lock of the payee's bucket (class
-- 73011268), exclusive for a change, shared for a payout; 1024 buckets.
CREATE FUNCTION cd_payee_bucket(p_kind text, p_id text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN hashtext(p_kind || '/' || p_id) & 1023;

-- Taken by a change before it is inserted (returns true, to be joined); an
-- import takes the buckets of its changes in ascending order.
CREATE FUNCTION cd_payee_lock_bucket(p_bucket integer) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(73011268, p_bucket);
    RETURN true;
END
$$;

CREATE FUNCTION cd_payee_lock(p_kind text, p_id text) RETURNS boolean
    LANGUAGE sql VOLATILE
    RETURN cd_payee_lock_bucket(cd_payee_bucket(p_kind, p_id));

-- The payout's check (lib/db/statements.c, PAYEE_GUARD), as
-- cd_refusal_gate: share the payee's lock, then read the state with a
-- snapshot of its own, so that no payout commits after a flag of its
-- payee that it did not see. No payee: false, and no lock.
CREATE FUNCTION cd_payee_gate(p_kind text, p_id text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    flagged boolean;
BEGIN
    IF p_kind IS NULL OR p_id IS NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(73011268, cd_payee_bucket(p_kind, p_id));
    SELECT cd_payee_flagged_at(p_kind, p_id, now()) INTO flagged;
    RETURN flagged;
END
$$;

-- A batch of payouts (sql/011, cd_gate_lock): the payees' buckets, shared
-- and ascending, before any row, so that a batch and an import never wait
-- for each other in a circle. Returns true.
CREATE FUNCTION cd_payee_gate_lock(kinds text[], ids text[]) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    b integer;
BEGIN
    FOR b IN SELECT DISTINCT cd_payee_bucket(k, i) FROM unnest(kinds, ids) AS p (k, i)
              WHERE k IS NOT NULL AND i IS NOT NULL ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock_shared(73011268, b);
    END LOOP;
    RETURN true;
END
$$;

-- The new role: the connector of the anti-fraud centre's lists.
ALTER TABLE api_client DROP CONSTRAINT IF EXISTS api_client_role_check;
ALTER TABLE api_client ADD CONSTRAINT api_client_role_check
    CHECK (role IN ('lender', 'compliance', 'auditor', 'registry', 'antifraud'));

-- The new event types, with every earlier one; NOT VALID as in sql/013.
ALTER TABLE audit_event DROP CONSTRAINT IF EXISTS audit_event_type_check;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_type_check
    CHECK (type IN ('approval_recorded', 'consent_recorded', 'in_person_verified',
                    'cancelled', 'disbursement_allowed', 'disbursement_refused',
                    'lender_added', 'client_added', 'client_revoked', 'mrp_set',
                    'reconfirmation_recorded', 'extra_confirmation_recorded',
                    'voluntary_refusal_set', 'voluntary_refusal_withdrawn',
                    'cooling_period_ended', 'voluntary_refusal_applied',
                    'voluntary_refusal_lifted', 'webhook_added', 'webhook_removed',
                    'suspicious_payee_set', 'suspicious_payee_withdrawn'))
    NOT VALID;

ALTER TABLE suspicious_payee OWNER TO coolingd_owner;
ALTER FUNCTION cd_payee_refuse_change() OWNER TO coolingd_owner;
ALTER FUNCTION cd_payee_flagged_at(text, text, timestamptz) OWNER TO coolingd_owner;
ALTER FUNCTION cd_payee_flagged(text, text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_payee_bucket(text, text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_payee_lock_bucket(integer) OWNER TO coolingd_owner;
ALTER FUNCTION cd_payee_lock(text, text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_payee_gate(text, text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_payee_gate_lock(text[], text[]) OWNER TO coolingd_owner;
-- append-only for the daemon and the operator's import; read by compliance
GRANT SELECT, INSERT ON suspicious_payee TO coolingd_app, coolingd_admin;
GRANT USAGE ON SEQUENCE suspicious_payee_seq_seq TO coolingd_app, coolingd_admin;
GRANT SELECT ON suspicious_payee TO coolingd_reader;

INSERT INTO schema_release (version, min_release) VALUES (16, '0.2.0');
