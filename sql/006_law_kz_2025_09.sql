-- Profile kz-2025-09 (REGULATION.md): what each loan was decided under is
-- kept with it (its product, the lender's kind, the exemption, the day's
-- amount, the tier, the borrower's age) and the two acts it may need
-- (reconfirmation after the period, an extra confirmation by age).
--
-- Loans recorded before keep their answers under kz-card: product
-- consumer, the lender's kind, exemption branch for a branch loan, the
-- day's amount their own amount, rule card when cooled, no reconfirmation
-- and no extra confirmation; their age is computed as the daemon does
-- (iin_age_on) on the Asia/Almaty local date of their approval.

ALTER TABLE loan
    ADD COLUMN product text NOT NULL DEFAULT 'consumer'
        CHECK (product IN ('consumer', 'goods', 'refinancing', 'card_limit')),
    ADD COLUMN lender_kind text NOT NULL DEFAULT 'bank' CHECK (lender_kind IN ('bank', 'mfo')),
    ADD COLUMN exemption text
        CHECK (exemption IN ('branch', 'secured', 'goods', 'refinancing', 'card_limit')),
    ADD COLUMN aggregated_amount_tiyn bigint,
    ADD COLUMN rule text CHECK (rule IN ('card', 'bank_short', 'bank_long', 'mfo')),
    ADD COLUMN borrower_age integer CHECK (borrower_age >= 0),
    ADD COLUMN extra_confirmation_required boolean NOT NULL DEFAULT false,
    ADD COLUMN extra_confirmed_at timestamptz,
    ADD COLUMN extra_confirmation_method text
        CHECK (extra_confirmation_method IN ('branch', 'egov', 'credit_bureau', 'lender_app')),
    ADD COLUMN reconfirmation_required boolean NOT NULL DEFAULT false,
    ADD COLUMN reconfirmed_at timestamptz;

UPDATE loan l SET lender_kind = k.kind FROM lender k WHERE k.id = l.lender_id;

-- The age on a local date, as iin_age_on() computes it: whole years, a
-- 29 February birthday gained on 28 February in a common year.
CREATE FUNCTION pg_temp.cd_iin_age(iin text, d date) RETURNS integer LANGUAGE sql AS $$
    WITH b AS (SELECT make_date(
        CASE substr(iin, 7, 1) WHEN '1' THEN 1800 WHEN '2' THEN 1800
             WHEN '3' THEN 1900 WHEN '4' THEN 1900 ELSE 2000 END
        + substr(iin, 1, 2)::integer, substr(iin, 3, 2)::integer,
        substr(iin, 5, 2)::integer) AS born),
    y AS (SELECT born, extract(year FROM d)::integer AS year,
                 extract(month FROM born)::integer AS bm,
                 CASE WHEN extract(month FROM born) = 2 AND extract(day FROM born) = 29
                       AND extract(day FROM make_date(extract(year FROM d)::integer, 3, 1)
                                        - 1) = 28
                      THEN 28 ELSE extract(day FROM born)::integer END AS bd
          FROM b)
    SELECT year - extract(year FROM born)::integer
           - CASE WHEN (extract(month FROM d)::integer, extract(day FROM d)::integer)
                       < (bm, bd) THEN 1 ELSE 0 END
    FROM y
$$;

UPDATE loan SET
    exemption = CASE WHEN channel = 'branch' THEN 'branch' END,
    aggregated_amount_tiyn = amount_tiyn,
    rule = CASE WHEN cooling_required THEN 'card' END,
    borrower_age = pg_temp.cd_iin_age(borrower_iin, (approved_at AT TIME ZONE 'Asia/Almaty')::date);

ALTER TABLE loan
    ALTER COLUMN aggregated_amount_tiyn SET NOT NULL,
    ADD CHECK (aggregated_amount_tiyn >= amount_tiyn),
    ADD CHECK ((rule IS NOT NULL) = cooling_required),
    ADD CHECK (NOT reconfirmation_required OR cooling_required),
    ADD CHECK ((extra_confirmed_at IS NULL) = (extra_confirmation_method IS NULL)),
    ADD CHECK (reconfirmed_at IS NULL OR reconfirmation_required),
    ADD CHECK (extra_confirmed_at IS NULL OR extra_confirmation_required),
    -- the last line of defence, extended: a disbursed loan was confirmed
    -- again after its period and, by age, once more
    ADD CHECK (disbursed_at IS NULL OR (
        (NOT reconfirmation_required
         OR (reconfirmed_at IS NOT NULL AND reconfirmed_at >= cooling_ends_at))
        AND (NOT extra_confirmation_required OR extra_confirmed_at IS NOT NULL)));

-- The same defaults for a loan inserted as v1 did, without the new
-- columns (the daemon always writes them): the day's amount is its own,
-- a cooled loan's rule is kz-card's, a branch loan is exempt as such.
CREATE FUNCTION cd_loan_v1_defaults() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.aggregated_amount_tiyn IS NULL THEN
        NEW.aggregated_amount_tiyn := NEW.amount_tiyn;
        IF NEW.rule IS NULL AND NEW.cooling_required THEN
            NEW.rule := 'card';
        END IF;
        IF NEW.exemption IS NULL AND NEW.channel = 'branch' THEN
            NEW.exemption := 'branch';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER loan_v1_defaults BEFORE INSERT ON loan
    FOR EACH ROW WHEN (NEW.aggregated_amount_tiyn IS NULL) EXECUTE FUNCTION cd_loan_v1_defaults();

-- The loans that count towards a day's amount, per borrower and time: the
-- day's sum is one range scan of this index (index-only: what it adds up is
-- in it), however many loans the borrower has.
CREATE INDEX loan_day_idx ON loan (borrower_iin, approved_at)
    INCLUDE (lender_id, amount_tiyn)
    WHERE channel = 'online' AND exemption IS NULL AND cancelled_at IS NULL;

-- The borrower's other loans of the local date (in zone tz) of `at` that
-- count towards the day's amount (online, not exempt, not cancelled; of
-- `lender`, or of every lender when it is NULL), as
-- {"total": tiyn, "loans": [{"lender", "loan_id", "amount"}, ...]} in the
-- order they were recorded. With take_lock, first takes the transaction's
-- advisory lock of (borrower, local date), so that the approvals of one
-- borrower and day are serialised on every daemon: the lock is held until
-- the approval's statement commits. The function is VOLATILE, so its
-- second statement takes a snapshot of its own after the lock is granted
-- (READ COMMITTED) and sees the loan of the approval that held it.
CREATE FUNCTION cd_day_loans(iin text, at timestamptz, tz text, lender text,
                             take_lock boolean) RETURNS jsonb
    LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(hashtextextended(
        'cd-day:' || iin || ':' || ((at AT TIME ZONE tz)::date - DATE '1970-01-01'), 7301126006))
    WHERE take_lock;
    SELECT jsonb_build_object(
        'total', coalesce(sum(d.amount_tiyn), 0),
        'loans', coalesce(jsonb_agg(jsonb_build_object(
            'lender', d.lender_id, 'loan_id', d.loan_id,
            'amount', (d.amount_tiyn / 100)::text || '.'
                      || lpad((d.amount_tiyn % 100)::text, 2, '0')) ORDER BY d.id),
            '[]'::jsonb))
    FROM loan d
    WHERE d.borrower_iin = iin
      AND d.approved_at >= (((at AT TIME ZONE tz)::date)::timestamp AT TIME ZONE tz)
      AND d.approved_at < ((((at AT TIME ZONE tz)::date) + 1)::timestamp AT TIME ZONE tz)
      AND d.channel = 'online' AND d.exemption IS NULL AND d.cancelled_at IS NULL
      AND (lender IS NULL OR d.lender_id = lender);
$$;

ALTER TABLE audit_event DROP CONSTRAINT audit_event_type_check;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_type_check CHECK (type IN (
    'approval_recorded', 'consent_recorded', 'in_person_verified', 'cancelled',
    'disbursement_allowed', 'disbursement_refused', 'lender_added', 'client_added',
    'client_revoked', 'mrp_set', 'reconfirmation_recorded', 'extra_confirmation_recorded'));
