-- Profile kg-2024-11 (CONTRACT.md v1.2, "Profiles as dated data, and more
-- countries"; REGULATION.md, "More countries", Kyrgyzstan): three bands
-- (kg_band1, kg_band2, kg_band3), and above the third a control call
-- before the payout. The loan records at approval whether its band asks
-- for the call (control_call_required), and the act records it
-- (control_called_at, control_call_officer_id, the audit event
-- control_call_recorded); a disbursed loan that needed one had it.
--
-- An expand migration: the new column has a default (false), so the
-- previous release's inserts, which do not name it, make loans that need
-- no call, and its payout guard stays right for them; the other columns
-- are nullable. The CHECKs are NOT VALID (no row read or rewritten: every
-- existing row satisfies them) and check every row written from now on.

ALTER TABLE loan DROP CONSTRAINT loan_rule_check;
ALTER TABLE loan ADD CONSTRAINT loan_rule_check
    CHECK (rule IN ('card', 'bank_short', 'bank_long', 'mfo', 'ru_short', 'ru_long',
                    'kg_band1', 'kg_band2', 'kg_band3')) NOT VALID;

ALTER TABLE loan ADD COLUMN control_call_required boolean NOT NULL DEFAULT false,
    ADD COLUMN control_called_at timestamptz,
    ADD COLUMN control_call_officer_id text,
    ADD CONSTRAINT loan_control_call_check
    CHECK ((control_called_at IS NULL) = (control_call_officer_id IS NULL)
           AND (control_called_at IS NULL OR control_call_required)) NOT VALID,
    -- the last line of defence, extended: a disbursed loan that needed a
    -- control call had it
    ADD CONSTRAINT loan_control_call_disbursed_check
    CHECK (disbursed_at IS NULL OR NOT control_call_required
           OR control_called_at IS NOT NULL) NOT VALID;

-- The new event type, with every earlier one; NOT VALID as in sql/013.
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
                    'fraud_claim_opened', 'fraud_claim_closed',
                    'holiday_set', 'holiday_removed', 'trusted_person_confirmed',
                    'control_call_recorded'))
    NOT VALID;

INSERT INTO schema_release (version, min_release) VALUES (24, '0.2.0');
