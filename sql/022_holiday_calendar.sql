-- The calendar of non-working days (CONTRACT.md v1.2, "Profiles as dated
-- data, and more countries"; docs/policy.md, "The calendar"): the Belarus
-- profile pays an online loan out no earlier than the start of the next
-- working day after the consent. Saturday and Sunday are never working
-- days; the table holds the other non-working days (public holidays,
-- days off moved by decree), a local date and its name each, as
-- `coolingctl holidays import` brings them: an import replaces the days
-- of every year its file holds, so a day that was moved can be taken out.
-- Each change is an audit event (holiday_set, holiday_removed), so the
-- trail says which calendar a decision was made with.
--
-- An expand migration: a table, functions and event types that the
-- previous release does not use.

CREATE TABLE non_working_day (
    day          date PRIMARY KEY,                       -- a local date
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    recorded_at  timestamptz NOT NULL DEFAULT now(),     -- when it was set or renamed
    -- the years of lib/calendar.h (CALENDAR_FIRST_YEAR, CALENDAR_LAST_YEAR)
    CHECK (day BETWEEN DATE '2000-01-01' AND DATE '2099-12-31')
);

-- The first working day after a local date (never the date itself). The C
-- twin is calendar_next_working_day() (lib/calendar.c); the integration
-- test test_calendar checks them on every day of two years. Ends: the
-- table is finite, and past its last day Monday is at most two days on.
CREATE FUNCTION cd_next_working_date(p_day date) RETURNS date
    LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    d date := p_day + 1;
BEGIN
    WHILE extract(isodow FROM d) >= 6
          OR EXISTS (SELECT 1 FROM non_working_day n WHERE n.day = d) LOOP
        d := d + 1;
    END LOOP;
    RETURN d;
END
$$;

-- The start (local midnight) of the next working day after the moment
-- p_at, in the zone p_tz (an IANA name: the profile's, Europe/Minsk for
-- Belarus); the day of p_at is its local date in that zone.
CREATE FUNCTION cd_next_working_day_start(p_at timestamptz, p_tz text) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN cd_next_working_date((p_at AT TIME ZONE p_tz)::date)::timestamp AT TIME ZONE p_tz;

-- The new event types, with every earlier one; NOT VALID as in sql/013.
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
                    'holiday_set', 'holiday_removed'))
    NOT VALID;

ALTER TABLE non_working_day OWNER TO coolingd_owner;
ALTER FUNCTION cd_next_working_date(date) OWNER TO coolingd_owner;
ALTER FUNCTION cd_next_working_day_start(timestamptz, text) OWNER TO coolingd_owner;
-- read by the daemon and by compliance; kept by the operators, as the MRP
GRANT SELECT ON non_working_day TO coolingd_app, coolingd_reader;
GRANT INSERT, UPDATE, DELETE ON non_working_day TO coolingd_admin;

INSERT INTO schema_release (version, min_release) VALUES (22, '0.2.0');
