-- One online loan a day across lenders (CONTRACT.md v1.2, "Profiles as
-- dated data, and more countries", uz-2026-01; REGULATION.md, "More
-- countries", Uzbekistan): while another lender paid out an online loan of
-- the borrower less than a window ago, an online loan waits (the blocker
-- other_loan_within_24h, until that payout + the window).
--
-- A loan that the rule holds records its window at approval
-- (cross_lender_window_s, seconds; NULL under every profile without the
-- rule, for a branch loan and for an exempt one). The payouts it counts are
-- those of such loans: one probe of loan_cross_lender_payout_idx, which
-- holds them alone, so that the payouts of other profiles neither pay for
-- it nor are read.
--
-- An expand migration: a column that the previous release neither writes
-- (NULL) nor reads, an index and functions it does not use.

ALTER TABLE loan ADD COLUMN cross_lender_window_s bigint
    CHECK (cross_lender_window_s >= 0);

CREATE INDEX loan_cross_lender_payout_idx ON loan (borrower_iin, disbursed_at DESC)
    INCLUDE (lender_id)
    WHERE cross_lender_window_s IS NOT NULL AND disbursed_at IS NOT NULL;

-- The latest payout of a loan that the rule holds, of the borrower, at
-- another lender than p_lender (NULL: none): every loan read of a loan
-- with a window (lib/db/internal.h, OTHER_LENDER_PAID_AT), the status
-- filter and the payout's gate.
CREATE FUNCTION cd_cross_lender_last(p_iin text, p_lender text) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT d.disbursed_at FROM loan d
             WHERE d.borrower_iin = p_iin AND d.cross_lender_window_s IS NOT NULL
               AND d.disbursed_at IS NOT NULL AND d.lender_id <> p_lender
             ORDER BY d.disbursed_at DESC LIMIT 1);

-- The borrowers' cross-lender locks (class 73011270, hashtext of the IIN),
-- exclusively and ascending, taken by a payout of a loan with a window (a
-- batch's, of all of its borrowers) before any other lock it takes:
-- payouts of one borrower under the rule are made one after the other, on
-- one daemon or several, and two payouts never wait for each other in a
-- circle. NULLs (loans without a window) are skipped. Returns true.
CREATE FUNCTION cd_cross_lender_lock(iins text[]) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k integer;
BEGIN
    FOR k IN SELECT DISTINCT hashtext(x) FROM unnest(iins) x WHERE x IS NOT NULL ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(73011270, k);
    END LOOP;
    RETURN true;
END
$$;

-- The payout's check (lib/db/statements.c, CROSS_LENDER_GUARD): true while
-- another lender's payout holds the loan. The borrower's lock (held since
-- the statement's start; taken again here, it is granted at once), then
-- the latest payout read with a snapshot of its own: a VOLATILE function's
-- query sees what committed before it began, so a payout of the borrower
-- at another lender that committed while this one waited for the lock is
-- seen. Of two payouts racing at two lenders, exactly one is paid.
CREATE FUNCTION cd_cross_lender_gate(p_iin text, p_lender text, p_window_s bigint)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    last_paid timestamptz;
BEGIN
    IF p_window_s IS NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(73011270, hashtext(p_iin));
    SELECT cd_cross_lender_last(p_iin, p_lender) INTO last_paid;
    RETURN last_paid IS NOT NULL AND now() < last_paid + p_window_s * interval '1 second';
END
$$;

ALTER FUNCTION cd_cross_lender_last(text, text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_cross_lender_lock(text[]) OWNER TO coolingd_owner;
ALTER FUNCTION cd_cross_lender_gate(text, text, bigint) OWNER TO coolingd_owner;

INSERT INTO schema_release (version, min_release) VALUES (25, '0.2.0');
