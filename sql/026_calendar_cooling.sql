-- A cooling period that ends on a calendar (CONTRACT.md v1.2, profile
-- by-2025-11; docs/policy.md, "Profile by-2025-11"): the payout of an
-- online loan not before the start of the next working day after the
-- consent, in the profile's zone, by the calendar of non-working days
-- (sql/022). Such a loan records the zone (cooling_calendar_zone) instead
-- of a length (cooling_period_s is NULL), under the rule next_working_day;
-- the database computes its end as it records the consent, from the
-- calendar in force then (cd_cooling_ends_at), and keeps it: a day imported
-- later does not move an end already fixed.
--
-- An expand migration: a nullable column, a function under a new name, a
-- rule name, and a CHECK that every row the previous release writes (a
-- cooled loan with a length, no zone) still satisfies; the CHECKs are NOT
-- VALID as in sql/024 (every existing row satisfies them; none is read).

ALTER TABLE loan ADD COLUMN cooling_calendar_zone text
    CHECK (char_length(cooling_calendar_zone) BETWEEN 1 AND 63);

-- A cooled loan has a length or a zone, never both; a loan not cooled has
-- neither (was: a cooled loan has a length).
DO $$
DECLARE
    c name;
BEGIN
    SELECT conname INTO c FROM pg_constraint
     WHERE conrelid = 'loan'::regclass AND contype = 'c'
       AND pg_get_constraintdef(oid) = 'CHECK ((cooling_required = (cooling_period_s IS NOT NULL)))';
    IF c IS NULL THEN
        RAISE EXCEPTION 'the CHECK of a cooled loan''s length (sql/001) is not there';
    END IF;
    EXECUTE format('ALTER TABLE loan DROP CONSTRAINT %I', c);
END
$$;
ALTER TABLE loan ADD CONSTRAINT loan_cooling_period_check
    CHECK (cooling_required = (cooling_period_s IS NOT NULL OR cooling_calendar_zone IS NOT NULL)
           AND (cooling_period_s IS NULL OR cooling_calendar_zone IS NULL)) NOT VALID;

ALTER TABLE loan DROP CONSTRAINT loan_rule_check;
ALTER TABLE loan ADD CONSTRAINT loan_rule_check
    CHECK (rule IN ('card', 'bank_short', 'bank_long', 'mfo', 'ru_short', 'ru_long',
                    'kg_band1', 'kg_band2', 'kg_band3', 'next_working_day')) NOT VALID;

-- The end of a loan's cooling period as its consent is recorded at
-- p_consent: p_ends (consent + its length, computed by lib/policy.c) for a
-- period with a length, or, for one that ends on the calendar of the zone
-- p_zone, the start of the next working day after the consent
-- (cd_next_working_day_start, whose C twin is lib/calendar.c). NULL while
-- there is no consent.
CREATE FUNCTION cd_cooling_ends_at(p_consent timestamptz, p_ends timestamptz, p_zone text)
    RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN p_zone IS NULL THEN p_ends
                WHEN p_consent IS NULL THEN NULL
                ELSE cd_next_working_day_start(p_consent, p_zone) END;

ALTER FUNCTION cd_cooling_ends_at(timestamptz, timestamptz, text) OWNER TO coolingd_owner;

INSERT INTO schema_release (version, min_release) VALUES (26, '0.2.0');
