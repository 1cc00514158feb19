-- The decision statistics (sql/008) counted by the sealer from the events it
-- has just read, instead of by a trigger on audit_chain that read each
-- sealed event again: the trigger joined its transition table to
-- audit_event, an index probe and a heap fetch per chained event, whatever
-- its type: 11 of the 29 microseconds per approval that sealing cost.
--
-- The rule is unchanged: the counts follow the chain. cd_audit_seal is the
-- only writer of audit_chain (sql/009), and it adds each batch's decisions
-- in the statement that reads the batch, in the transaction that chains it:
-- a batch is counted if and only if it is chained. The previous release
-- calls cd_audit_seal by the same signature, so it counts alike during an
-- upgrade.

DROP TRIGGER audit_chain_decision_count ON audit_chain;
DROP FUNCTION cd_decision_count_batch();

CREATE OR REPLACE FUNCTION cd_audit_seal(max_events integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    last_seq  bigint;
    last_hash bytea;
    last_txid xid8;
    last_id   bigint;
    horizon   xid8;
    ids       bigint[];
    txids     xid8[];
    canon     bytea[];
    hashes    bytea[] := '{}';
    h         bytea;
    n         integer;
BEGIN
    -- one sealer at a time, across every daemon; the others skip
    IF NOT pg_try_advisory_xact_lock(7301126002) THEN
        RETURN 0;
    END IF;
    SELECT c.seq, c.hash, c.txid, c.event_id INTO last_seq, last_hash, last_txid, last_id
      FROM audit_chain c ORDER BY c.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        last_seq := 0;
        last_hash := '\x0000000000000000000000000000000000000000000000000000000000000000';
        last_txid := '0'::xid8;
        last_id := 0;
    END IF;
    -- every transaction older than this has ended: none can still add an
    -- event that sorts before the ones we seal now
    horizon := pg_snapshot_xmin(pg_current_snapshot());
    WITH b AS MATERIALIZED (
        SELECT e.*, row_number() OVER (ORDER BY e.txid, e.id) AS n
          FROM (SELECT a.id, a.txid, a.at, a.actor, a.lender_id, a.loan_id, a.type, a.detail
                  FROM audit_event a
                 WHERE (a.txid, a.id) > (last_txid, last_id) AND a.txid < horizon
                 ORDER BY a.txid, a.id
                 LIMIT max_events) e),
    counted AS (
        INSERT INTO decision_hourly AS d (hour, lender_id, decision, blocker, n)
        SELECT cd_utc_hour(b.at), coalesce(b.lender_id, ''), k.decision, k.blocker, count(*)
          FROM b, cd_decision_keys(b.type, b.detail) k
         WHERE b.type IN ('disbursement_allowed', 'disbursement_refused')
         GROUP BY 1, 2, 3, 4
            ON CONFLICT (hour, lender_id, decision, blocker) DO UPDATE SET n = d.n + EXCLUDED.n)
    SELECT array_agg(b.id ORDER BY b.n), array_agg(b.txid ORDER BY b.n),
           array_agg(cd_audit_canonical(last_seq + b.n, b.at, b.actor, b.lender_id, b.loan_id,
                                        b.type, b.detail) ORDER BY b.n)
      INTO ids, txids, canon
      FROM b;
    n := coalesce(cardinality(ids), 0);
    IF n = 0 THEN
        RETURN 0;
    END IF;
    -- the chain: hash(seq) = sha256(hash(seq - 1) || canonical(seq))
    h := last_hash;
    FOR i IN 1 .. n LOOP
        h := sha256(h || canon[i]);
        hashes[i] := h;
    END LOOP;
    INSERT INTO audit_chain (seq, event_id, txid, hash)
         SELECT last_seq + u.n, u.id, u.txid, u.hash
           FROM unnest(ids, txids, hashes) WITH ORDINALITY AS u(id, txid, hash, n);
    RETURN n;
END
$$;

-- The previous release calls nothing that this drops or changes the
-- signature of: an expand.
INSERT INTO schema_release (version, min_release) VALUES (29, '0.2.0');
