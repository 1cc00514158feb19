-- The channel of the confirmation after the cooling period (CONTRACT.md
-- v1.2: POST .../reconfirmation's optional method, the loan's
-- reconfirmation_method; REGULATION.md, "Open readings": a branch, eGov,
-- the credit bureau or the lender's app). NULL when none was given, and for
-- every loan reconfirmed before, or by a release that does not know it.
--
-- An expand migration: a nullable column, no row rewritten or read (the
-- CHECK is NOT VALID and checks every row written from now on), one
-- statement under the loan's lock alone, as 018; the previous release
-- writes reconfirmed_at without a method and keeps working.

ALTER TABLE loan ADD COLUMN reconfirmation_method text,
    ADD CONSTRAINT loan_reconfirmation_method_check
    CHECK (reconfirmation_method IS NULL
           OR (reconfirmation_method IN ('branch', 'egov', 'credit_bureau', 'lender_app')
               AND reconfirmed_at IS NOT NULL)) NOT VALID;

INSERT INTO schema_release (version, min_release) VALUES (21, '0.2.0');
