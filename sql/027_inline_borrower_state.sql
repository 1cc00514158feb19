-- The borrower's refusal and fraud-claim state and a payee's flag as
-- set-returning SQL functions, the home of each rule from here on. A statement that reads
-- one through a subquery, (SELECT s.active FROM cd_refusal_state_at(...) s),
-- has the planner inline its body and plan it once with the statement,
-- prepared; a scalar SQL function whose body holds a subquery is never
-- inlined, and every execution of a statement that calls it parses and
-- plans that body again (about 0.2 ms for a statement of a few loans,
-- most of a batched loan read). The scalar functions stay, as the same
-- rule, for the previous release's statements; the payout's gates read
-- the table functions, in the plans that PL/pgSQL keeps per session.
-- An expand migration: nothing is removed or changes meaning.

-- The C twin is refusal_in_force() (lib/refusal.c).
CREATE FUNCTION cd_refusal_state_at(p_iin text, p_at timestamptz)
    RETURNS TABLE (active boolean)
    LANGUAGE sql STABLE PARALLEL SAFE
    BEGIN ATOMIC
        SELECT coalesce((SELECT r.active FROM voluntary_refusal r
                          WHERE r.iin = p_iin AND r.effective_at <= p_at
                          ORDER BY r.effective_at DESC, r.seq DESC LIMIT 1), false);
    END;

CREATE OR REPLACE FUNCTION cd_refusal_active_at(p_iin text, p_at timestamptz) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT s.active FROM cd_refusal_state_at(p_iin, p_at) s);

-- An open claim holds every loan of the borrower (sql/017).
CREATE FUNCTION cd_claim_state(p_iin text) RETURNS TABLE (open boolean)
    LANGUAGE sql STABLE PARALLEL SAFE
    BEGIN ATOMIC
        SELECT EXISTS (SELECT 1 FROM fraud_claim c
                        WHERE c.borrower_iin = p_iin AND c.closed_at IS NULL);
    END;

CREATE OR REPLACE FUNCTION cd_claim_open(p_iin text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT s.open FROM cd_claim_state(p_iin) s);

-- The C twin is refusal_in_force() (lib/refusal.c) on the payee's changes;
-- a NULL kind or id (a payout without a payee) is flagged never.
CREATE FUNCTION cd_payee_state_at(p_kind text, p_id text, p_at timestamptz)
    RETURNS TABLE (active boolean)
    LANGUAGE sql STABLE PARALLEL SAFE
    BEGIN ATOMIC
        SELECT coalesce((SELECT s.active FROM suspicious_payee s
                          WHERE s.kind = p_kind AND s.id = p_id AND s.effective_at <= p_at
                          ORDER BY s.effective_at DESC, s.seq DESC LIMIT 1), false);
    END;

CREATE OR REPLACE FUNCTION cd_payee_flagged_at(p_kind text, p_id text, p_at timestamptz)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT s.active FROM cd_payee_state_at(p_kind, p_id, p_at) s);

-- The gates as in sql/007, sql/016 and sql/017: the lock, then the state.
CREATE OR REPLACE FUNCTION cd_refusal_gate(p_iin text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    refused boolean;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(73011267, cd_refusal_bucket(p_iin));
    SELECT s.active INTO refused FROM cd_refusal_state_at(p_iin, now()) s;
    RETURN refused;
END
$$;

CREATE OR REPLACE FUNCTION cd_claim_gate(p_iin text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    open_claim boolean;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(73011267, cd_refusal_bucket(p_iin));
    SELECT s.open INTO open_claim FROM cd_claim_state(p_iin) s;
    RETURN open_claim;
END
$$;

CREATE OR REPLACE FUNCTION cd_payee_gate(p_kind text, p_id text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    flagged boolean;
BEGIN
    IF p_kind IS NULL OR p_id IS NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(73011268, cd_payee_bucket(p_kind, p_id));
    SELECT s.active INTO flagged FROM cd_payee_state_at(p_kind, p_id, now()) s;
    RETURN flagged;
END
$$;

ALTER FUNCTION cd_refusal_state_at(text, timestamptz) OWNER TO coolingd_owner;
ALTER FUNCTION cd_claim_state(text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_payee_state_at(text, text, timestamptz) OWNER TO coolingd_owner;

INSERT INTO schema_release (version, min_release) VALUES (27, '0.2.0');
