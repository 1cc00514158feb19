-- Profiles in other currencies and their rules (CONTRACT.md v1.2,
-- "Profiles as dated data, and more countries"): a profile fixes its
-- currency, an approval must be in it, and the loan keeps it. The column
-- was there since sql/001, held to KZT; it now holds the profile's
-- currency, an ISO 4217 code. Loans recorded before keep KZT. ru-2025-09
-- adds a product (education), its exemptions (education, trusted_person)
-- and its two bands (ru_short, ru_long), and its act: the borrower's
-- trusted person confirms a loan (trusted_person_confirmed_at, the audit
-- event trusted_person_confirmed), which makes it exempt from then on.
--
-- An expand migration: the previous release writes no currency (the
-- default, KZT) and reads none, and writes none of the new names.

ALTER TABLE loan DROP CONSTRAINT loan_currency_check;
ALTER TABLE loan ADD CONSTRAINT loan_currency_check CHECK (currency ~ '^[A-Z]{3}$');

ALTER TABLE loan DROP CONSTRAINT loan_product_check;
ALTER TABLE loan ADD CONSTRAINT loan_product_check
    CHECK (product IN ('consumer', 'goods', 'refinancing', 'card_limit', 'education'));
ALTER TABLE loan DROP CONSTRAINT loan_exemption_check;
ALTER TABLE loan ADD CONSTRAINT loan_exemption_check
    CHECK (exemption IN ('branch', 'secured', 'goods', 'refinancing', 'card_limit',
                         'education', 'trusted_person'));
ALTER TABLE loan DROP CONSTRAINT loan_rule_check;
ALTER TABLE loan ADD CONSTRAINT loan_rule_check
    CHECK (rule IN ('card', 'bank_short', 'bank_long', 'mfo', 'ru_short', 'ru_long'));

ALTER TABLE loan ADD COLUMN trusted_person_confirmed_at timestamptz;

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
                    'holiday_set', 'holiday_removed', 'trusted_person_confirmed'))
    NOT VALID;

INSERT INTO schema_release (version, min_release) VALUES (23, '0.2.0');
