-- Profiles in other currencies (CONTRACT.md v1.2, "Profiles as dated
-- data, and more countries"): a profile fixes its currency, an approval
-- must be in it, and the loan keeps it. The column was there since
-- sql/001, held to KZT; it now holds the profile's currency, an ISO 4217
-- code. Loans recorded before keep KZT.
--
-- An expand migration: the previous release writes no currency (the
-- default, KZT) and reads none.

ALTER TABLE loan DROP CONSTRAINT loan_currency_check;
ALTER TABLE loan ADD CONSTRAINT loan_currency_check CHECK (currency ~ '^[A-Z]{3}$');

INSERT INTO schema_release (version, min_release) VALUES (23, '0.2.0');
