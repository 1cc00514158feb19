-- A burst of lenders (CONTRACT.md v1.2, "Several lenders in a burst";
-- docs/fraud.md): a victim talked through one lender after another applies
-- at several within an hour. With [policy] burst_lenders = N, a cooled loan
-- whose borrower's online approvals at N or more distinct lenders (this one
-- included, cancelled ones too) fall within [policy] burst_window needs an
-- in-person verification.
--
-- An expand migration: functions the previous release does not use.

-- The most distinct lenders other than p_lender whose online approvals of
-- the borrower fall, with p_at, within one window of p_window_s seconds:
-- the windows that matter start at p_at or at an approval in the window
-- before it (any window holding p_at can be moved to start at its earliest
-- approval without losing one). Reads loan_borrower_idx in [p_at - window,
-- p_at + window]. With p_take_lock, first the borrower's burst lock
-- (class 73011269), which every approval of the borrower takes before its
-- insert: approvals of one borrower are recorded one after the other, each
-- counting the ones before it, on one daemon or several. A VOLATILE SQL
-- function: the count's snapshot is taken after the lock is granted.
CREATE FUNCTION cd_burst_others(p_iin text, p_at timestamptz, p_window_s bigint,
                                p_lender text, p_take_lock boolean) RETURNS bigint
    LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(73011269, hashtext(p_iin)) WHERE p_take_lock;
    SELECT coalesce(max(w.n), 0) FROM (
        SELECT count(DISTINCT d.lender_id) FILTER (WHERE d.lender_id <> p_lender) AS n
          FROM (SELECT p_at AS start
                UNION
                SELECT s.approved_at FROM loan s
                 WHERE s.borrower_iin = p_iin AND s.channel = 'online'
                   AND s.approved_at >= p_at - make_interval(secs => p_window_s)
                   AND s.approved_at <= p_at) c
          LEFT JOIN loan d ON d.borrower_iin = p_iin AND d.channel = 'online'
                          AND d.approved_at >= c.start
                          AND d.approved_at <= c.start + make_interval(secs => p_window_s)
         GROUP BY c.start) w;
$$;

-- A batch of approvals (sql/011, in place of cd_day_lock): the burst locks
-- of its borrowers whose approvals count bursts, ascending, then its day
-- locks, ascending: the order of a single approval, which takes its burst
-- lock (cd_burst_others(..., true)) before its day lock (cd_day_loans(...,
-- true)). Returns true (NULLs are skipped).
CREATE FUNCTION cd_approval_locks(iins text[], day_keys bigint[]) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k bigint;
BEGIN
    FOR k IN SELECT DISTINCT hashtext(x) FROM unnest(iins) x WHERE x IS NOT NULL ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(73011269, k::integer);
    END LOOP;
    FOR k IN SELECT DISTINCT x FROM unnest(day_keys) x WHERE x IS NOT NULL ORDER BY x LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;
    RETURN true;
END
$$;

ALTER FUNCTION cd_burst_others(text, timestamptz, bigint, text, boolean) OWNER TO coolingd_owner;
ALTER FUNCTION cd_approval_locks(text[], bigint[]) OWNER TO coolingd_owner;

INSERT INTO schema_release (version, min_release) VALUES (19, '0.2.0');
