-- The borrower's refusal and fraud-claim state as set-returning SQL
-- functions, the home of each rule from here on. A statement that reads
-- one through a subquery, (SELECT s.active FROM cd_refusal_state_at(...) s),
-- has the planner inline its body and plan it once with the statement,
-- prepared; a scalar SQL function whose body holds a subquery is never
-- inlined, and every execution of a statement that calls it parses and
-- plans that body again (about 0.2 ms for a statement of a few loans,
-- most of a batched loan read). The scalar functions stay, as the same
-- rule, for the guards and for the previous release's statements.
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

ALTER FUNCTION cd_refusal_state_at(text, timestamptz) OWNER TO coolingd_owner;
ALTER FUNCTION cd_claim_state(text) OWNER TO coolingd_owner;

INSERT INTO schema_release (version, min_release) VALUES (27, '0.2.0');
