-- The locks of the daemon's batched writes (lib/db.c, BATCH_WRITE_*),
-- taken in one order, so that two batches, or a batch and a single write,
-- never wait for each other in a circle:
--
--   the borrower's day locks (approvals), ascending by key;
--   the refusal buckets' shared locks (payouts), ascending;
--   the loans' row locks (payouts), ascending by id;
--   then the unique keys the statement inserts, ascending.
--
-- A single write takes at most one of each, in the same order; a refusal
-- change takes one bucket, an import its buckets ascending (sql/007).

-- The key of the borrower's day lock, which cd_day_loans takes.
CREATE FUNCTION cd_day_key(iin text, at timestamptz, tz text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN hashtextextended(
        'cd-day:' || iin || ':' || ((at AT TIME ZONE tz)::date - DATE '1970-01-01'), 7301126006);

CREATE OR REPLACE FUNCTION cd_day_loans(iin text, at timestamptz, tz text, lender text,
                                        take_lock boolean) RETURNS jsonb
    LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(cd_day_key(iin, at, tz)) WHERE take_lock;
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

-- A batch of approvals: the day locks of its borrowers, ascending; then
-- each approval reads its day with cd_day_loans(..., false). Returns true
-- (NULL keys, of approvals whose profile adds nothing up, are skipped).
CREATE FUNCTION cd_day_lock(keys bigint[]) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k bigint;
BEGIN
    FOR k IN SELECT DISTINCT x FROM unnest(keys) x WHERE x IS NOT NULL ORDER BY x LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;
    RETURN true;
END
$$;

-- A batch of payouts: the refusal buckets of its borrowers, shared and
-- ascending, then its loans' rows, ascending by id. The payout's guard
-- then takes each bucket again (cd_refusal_gate; a lock already held is
-- granted at once) and updates rows already locked. Returns true.
CREATE FUNCTION cd_gate_lock(ids bigint[]) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    b integer;
BEGIN
    FOR b IN SELECT DISTINCT cd_refusal_bucket(l.borrower_iin) FROM loan l
              WHERE l.id = ANY (ids) ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock_shared(73011267, b);
    END LOOP;
    PERFORM 1 FROM loan l WHERE l.id = ANY (ids) ORDER BY l.id FOR UPDATE;
    RETURN true;
END
$$;

ALTER FUNCTION cd_day_key(text, timestamptz, text) OWNER TO coolingd_owner;
ALTER FUNCTION cd_day_lock(bigint[]) OWNER TO coolingd_owner;
ALTER FUNCTION cd_gate_lock(bigint[]) OWNER TO coolingd_owner;
