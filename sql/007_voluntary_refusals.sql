-- The voluntary refusal of credit registry ("Stop credit", REGULATION.md;
-- docs/refusals.md). One row per change that a connector reported: the
-- refusal set (active) or withdrawn, in effect from effective_at (past or
-- future), in arrival order (seq). Nothing is ever changed or removed: the
-- state at any moment is computed from the changes, so a future-dated
-- change takes effect by itself when its time comes, and a change that
-- arrives late takes its place by effective_at.

CREATE TABLE voluntary_refusal (
    seq           bigserial PRIMARY KEY,               -- the arrival order
    iin           text NOT NULL CHECK (iin ~ '^[0-9]{12}$'),
    active        boolean NOT NULL,
    effective_at  timestamptz NOT NULL,
    source        text NOT NULL CHECK (source ~ '^[A-Za-z0-9._:-]{1,64}$'
                                       AND source NOT IN ('.', '..')),
    reference     text CHECK (char_length(reference) BETWEEN 1 AND 200),
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    -- a change reported again (same active, effective_at, source) is the
    -- same change: it is kept once, with the reference that came first
    UNIQUE (iin, active, effective_at, source)
);

-- "Is this IIN refused at t" is one descent of this index: the latest
-- change not after t, by effective_at, then arrival; index-only.
CREATE INDEX voluntary_refusal_state_idx
    ON voluntary_refusal (iin, effective_at DESC, seq DESC) INCLUDE (active);

CREATE FUNCTION cd_refusal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the voluntary refusal registry is append-only: % on % refused',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER voluntary_refusal_append_only BEFORE UPDATE OR DELETE ON voluntary_refusal
    FOR EACH ROW EXECUTE FUNCTION cd_refusal_refuse_change();
CREATE TRIGGER voluntary_refusal_no_truncate BEFORE TRUNCATE ON voluntary_refusal
    FOR EACH STATEMENT EXECUTE FUNCTION cd_refusal_refuse_change();

-- The state at a moment: the C twin is refusal_in_force() (lib/refusal.c);
-- tests/integration/test_refusals.c checks the two on the same changes.
CREATE FUNCTION cd_refusal_active_at(p_iin text, p_at timestamptz) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce((SELECT r.active FROM voluntary_refusal r
                      WHERE r.iin = p_iin AND r.effective_at <= p_at
                      ORDER BY r.effective_at DESC, r.seq DESC LIMIT 1), false);

-- The state at the database's now: every loan read (lib/db.c, LOAN_COLUMNS).
CREATE FUNCTION cd_refusal_active(p_iin text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN cd_refusal_active_at(p_iin, now());

-- Refusal changes and payouts of one borrower are ordered by an advisory
-- lock of the IIN's bucket (class 73011267): a change takes it
-- exclusively before its insert, a payout shares it. 1024 buckets keep the
-- locks of a whole import within the lock table.
CREATE FUNCTION cd_refusal_bucket(p_iin text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN hashtext(p_iin) & 1023;

-- Taken by a change before it is inserted (returns true, to be joined);
-- an import takes the buckets of its changes in ascending order, so that
-- two writers never wait for each other in a circle.
CREATE FUNCTION cd_refusal_lock_bucket(p_bucket integer) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(73011267, p_bucket);
    RETURN true;
END
$$;

CREATE FUNCTION cd_refusal_lock(p_iin text) RETURNS boolean
    LANGUAGE sql VOLATILE
    RETURN cd_refusal_lock_bucket(cd_refusal_bucket(p_iin));

-- The payout's check (lib/db.c, GUARD): share the IIN's lock, then read
-- the state with a snapshot of its own. A VOLATILE function's query sees
-- what committed before it began, not only what committed before the
-- payout's statement began (READ COMMITTED): a refusal whose transaction
-- held the lock has committed by the time the lock is granted, and is
-- seen; a refusal that comes later waits for the payout's commit. So no
-- payout commits after a refusal of its borrower that it did not see.
CREATE FUNCTION cd_refusal_gate(p_iin text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    refused boolean;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(73011267, cd_refusal_bucket(p_iin));
    SELECT cd_refusal_active_at(p_iin, now()) INTO refused;
    RETURN refused;
END
$$;

-- The new role: the connector that brings the bureau's refusals in.
ALTER TABLE api_client DROP CONSTRAINT IF EXISTS api_client_role_check;
ALTER TABLE api_client ADD CONSTRAINT api_client_role_check
    CHECK (role IN ('lender', 'compliance', 'auditor', 'registry'));

-- The event types of v1.1 (CONTRACT.md), all of them, so that the list is
-- whole whichever migration of v1.1 ran last.
ALTER TABLE audit_event DROP CONSTRAINT IF EXISTS audit_event_type_check;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_type_check
    CHECK (type IN ('approval_recorded', 'consent_recorded', 'in_person_verified',
                    'cancelled', 'disbursement_allowed', 'disbursement_refused',
                    'lender_added', 'client_added', 'client_revoked', 'mrp_set',
                    'reconfirmation_recorded', 'extra_confirmation_recorded',
                    'voluntary_refusal_set', 'voluntary_refusal_withdrawn'));

ALTER TABLE voluntary_refusal OWNER TO coolingd_owner;
ALTER FUNCTION cd_refusal_refuse_change() OWNER TO coolingd_owner;
ALTER FUNCTION cd_refusal_active_at(text, timestamptz) OWNER TO coolingd_owner;
ALTER FUNCTION cd_refusal_active(text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_refusal_bucket(text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_refusal_lock(text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_refusal_lock_bucket(integer) OWNER TO coolingd_owner;
ALTER FUNCTION cd_refusal_gate(text) OWNER TO coolingd_owner;
-- append-only for the daemon: it adds changes and reads them
GRANT SELECT, INSERT ON voluntary_refusal TO coolingd_app;
GRANT USAGE ON SEQUENCE voluntary_refusal_seq_seq TO coolingd_app;

-- A timestamp as the API writes it (lib/timeutil.c, ts_format_utc): UTC
-- with Z, the fraction only when there is one; for audit details written
-- in SQL.
CREATE FUNCTION cd_utc_text(t timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN extract(microseconds FROM t)::bigint % 1000000 = 0 THEN 'Z'
                   ELSE '.' || to_char(t AT TIME ZONE 'UTC', 'US') || 'Z' END;
ALTER FUNCTION cd_utc_text(timestamptz) OWNER TO coolingd_owner;
