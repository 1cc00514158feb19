-- A fraud claim names its borrower, so a read of one by compliance, an
-- auditor or the anti-fraud centre's connector is recorded in the
-- personal-data access log (sql/015) before it is answered, with the
-- borrower's IIN and the route fraud-claim. The anti-fraud connector is
-- a role the log did not know.
--
-- An expand migration: the previous release writes none of the new role's
-- rows, and NOT VALID then VALIDATE keeps the table's lock short.

ALTER TABLE access_log
    DROP CONSTRAINT access_log_role_check,
    ADD CONSTRAINT access_log_role_check
        CHECK (role IN ('lender', 'compliance', 'auditor', 'registry', 'antifraud')) NOT VALID;
ALTER TABLE access_log VALIDATE CONSTRAINT access_log_role_check;

INSERT INTO schema_release (version, min_release) VALUES (20, '0.2.0');
