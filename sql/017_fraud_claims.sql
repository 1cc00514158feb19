-- Fraud claims (CONTRACT.md v1.2, "The fraud chain at the payout";
-- docs/fraud.md): a borrower reports being defrauded, at any lender, to
-- the anti-fraud centre or to compliance; while the claim is open, no loan
-- of that borrower at any lender that is neither disbursed nor cancelled
-- may be paid out. A claim is opened once and closed once, confirmed or
-- unfounded; it is never removed. A claim closed confirmed makes the
-- borrower a repeat victim for a while (sql/018, in_person_reasons).
--
-- An expand migration: a table, functions and event types that the
-- previous release does not use.

CREATE TABLE fraud_claim (
    id            bigserial PRIMARY KEY,           -- the claim_id is 'FC-' || id
    borrower_iin  text NOT NULL CHECK (borrower_iin ~ '^[0-9]{12}$'),
    reference     text NOT NULL CHECK (char_length(reference) BETWEEN 1 AND 200),
    note          text CHECK (char_length(note) BETWEEN 1 AND 1000),
    opened_at     timestamptz NOT NULL DEFAULT now(),
    opened_by     text NOT NULL,                   -- the client's name
    opener_lender text,                            -- the lender of a lender's client
    closed_at     timestamptz,
    closed_by     text,
    outcome       text CHECK (outcome IN ('confirmed', 'unfounded')),
    closure_note  text CHECK (char_length(closure_note) BETWEEN 1 AND 1000),
    CHECK ((closed_at IS NULL) = (outcome IS NULL)),
    CHECK ((closed_at IS NULL) = (closed_by IS NULL)),
    CHECK (closure_note IS NULL OR closed_at IS NOT NULL)
);

-- "Has this borrower an open claim" (every loan read and the payout's
-- guard): one probe of a partial index that holds only the open claims.
CREATE INDEX fraud_claim_open_idx ON fraud_claim (borrower_iin) WHERE closed_at IS NULL;
-- "Was this borrower a confirmed victim since t" (an approval).
CREATE INDEX fraud_claim_confirmed_idx ON fraud_claim (borrower_iin, closed_at)
    WHERE outcome = 'confirmed';

-- A claim changes once, from open to closed, and is never removed.
CREATE FUNCTION cd_claim_guard_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL
       AND (NEW.id, NEW.borrower_iin, NEW.reference, NEW.opened_at, NEW.opened_by)
           IS NOT DISTINCT FROM (OLD.id, OLD.borrower_iin, OLD.reference, OLD.opened_at,
                                 OLD.opened_by)
       AND NEW.note IS NOT DISTINCT FROM OLD.note
       AND NEW.opener_lender IS NOT DISTINCT FROM OLD.opener_lender THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a fraud claim is only closed, once: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER fraud_claim_close_once BEFORE UPDATE OR DELETE ON fraud_claim
    FOR EACH ROW EXECUTE FUNCTION cd_claim_guard_change();
CREATE TRIGGER fraud_claim_no_truncate BEFORE TRUNCATE ON fraud_claim
    FOR EACH STATEMENT EXECUTE FUNCTION cd_claim_guard_change();

-- The state at the database's now: every loan read (lib/db/internal.h,
-- LOAN_COLUMNS) and the status filter.
CREATE FUNCTION cd_claim_open(p_iin text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN EXISTS (SELECT 1 FROM fraud_claim c
                    WHERE c.borrower_iin = p_iin AND c.closed_at IS NULL);

-- The payout's check, under the refusal's lock discipline (sql/007): a
-- claim is opened after the borrower's bucket lock (cd_refusal_lock,
-- exclusive), the payout shares it (cd_refusal_gate takes it first in the
-- guard; taken again here, it is granted at once) and reads with a snapshot
-- of its own, so that no payout commits after a claim it did not see.
CREATE FUNCTION cd_claim_gate(p_iin text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    open_claim boolean;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(73011267, cd_refusal_bucket(p_iin));
    SELECT cd_claim_open(p_iin) INTO open_claim;
    RETURN open_claim;
END
$$;

ALTER TABLE audit_event DROP CONSTRAINT IF EXISTS audit_event_type_check;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_type_check
    CHECK (type IN ('approval_recorded', 'consent_recorded', 'in_person_verified',
                    'cancelled', 'disbursement_allowed', 'disbursement_refused',
                    'lender_added', 'client_added', 'client_revoked', 'mrp_set',
                    'reconfirmation_recorded', 'extra_confirmation_recorded',
                    'voluntary_refusal_set', 'voluntary_refusal_withdrawn',
                    'cooling_period_ended', 'voluntary_refusal_applied',
                    'voluntary_refusal_lifted', 'webhook_added', 'webhook_removed',
                    'suspicious_payee_set', 'suspicious_payee_withdrawn',
                    'fraud_claim_opened', 'fraud_claim_closed'))
    NOT VALID;

ALTER TABLE fraud_claim OWNER TO coolingd_owner;
ALTER FUNCTION cd_claim_guard_change() OWNER TO coolingd_owner;
ALTER FUNCTION cd_claim_open(text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_claim_gate(text) OWNER TO coolingd_owner;
-- the daemon opens, closes and reads claims; compliance reads them
GRANT SELECT, INSERT, UPDATE ON fraud_claim TO coolingd_app;
GRANT USAGE ON SEQUENCE fraud_claim_id_seq TO coolingd_app;
GRANT SELECT ON fraud_claim TO coolingd_reader;

INSERT INTO schema_release (version, min_release) VALUES (17, '0.2.0');
