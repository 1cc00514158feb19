-- Why a loan needs an in-person verification (CONTRACT.md v1.2, the
-- loan's in_person_reasons), fixed at approval: bits of first_time (1),
-- prior_fraud_victim (2), multi_lender_burst (4) (lib/names.h, enum
-- in_person_reason). NULL for a loan recorded before, or by a release that
-- does not know it: then the only reason there was is first_time.
--
-- An expand migration of its own: the loan's lock (ACCESS EXCLUSIVE, one
-- statement, no row read: the CHECK is NOT VALID and checks every row
-- written from now on) is the only one it takes, so that no payout, which
-- locks the loan and then appends to the audit trail, can wait for it in a
-- circle.

ALTER TABLE loan ADD COLUMN in_person_reasons smallint,
    ADD CONSTRAINT loan_in_person_reasons_check
    CHECK (in_person_reasons IS NULL OR (in_person_reasons BETWEEN 0 AND 7
           AND (in_person_reasons <> 0) = in_person_required)) NOT VALID;

INSERT INTO schema_release (version, min_release) VALUES (18, '0.2.0');
