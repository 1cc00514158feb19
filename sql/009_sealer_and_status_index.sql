-- The audit sealer, set-based (docs/audit.md, "Why sealing happens after
-- commit"; docs/performance.md, "The audit sealer").
--
-- cd_audit_seal used to fetch the batch row by row through a cursor and run
-- one INSERT per event. It now reads the whole batch in one statement, with
-- each event's canonical bytes computed there (its seq is its place in the
-- batch after the chain's last), chains the SHA-256 hashes in memory (each
-- hash needs the one before, so this is the one step that cannot be a set
-- operation), and appends the batch to audit_chain in one INSERT from the
-- arrays. The rules are those of 002: one sealer at a time (the advisory
-- lock; the others skip), events in (txid, id) order and only below the
-- oldest running transaction, each sealed once, gapless seq; the primary
-- key on seq and the unique event_id still refuse any fork.
--
-- The foreign key from audit_chain.event_id to audit_event goes: its check
-- ran once per sealed event and took a row lock on the event (a write to
-- the event's page and to the WAL), almost half of what sealing cost after
-- the change above. It guarded nothing that is not guarded otherwise: only
-- this function (and the schema's owner) can add to audit_chain, and it
-- adds only events it has just read; no role can delete an event (the
-- append-only triggers); and a superuser who disables those triggers to
-- delete one is what `coolingctl audit verify` is for ("its event is
-- gone"). The uniqueness of event_id stays.
ALTER TABLE audit_chain DROP CONSTRAINT audit_chain_event_id_fkey;

-- The batch is read by index: a range scan on audit_event_txid_idx that
-- starts after the chain's last event, so a call with nothing to seal reads
-- two index pages. Its statements run on their generic plans
-- (plan_cache_mode): the bounds are the chain's newest values, beyond the
-- column statistics, so the planner rated every custom plan a hundred times
-- cheaper than the generic one and planned the statement afresh on every
-- call, probing the index's end each time; that planning, not the scan, was
-- most of the cost of a call that seals nothing. The generic plan is the
-- same index range scan.
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
    SELECT array_agg(b.id ORDER BY b.n), array_agg(b.txid ORDER BY b.n),
           array_agg(cd_audit_canonical(last_seq + b.n, b.at, b.actor, b.lender_id, b.loan_id,
                                        b.type, b.detail) ORDER BY b.n)
      INTO ids, txids, canon
      FROM (SELECT e.*, row_number() OVER (ORDER BY e.txid, e.id) AS n
              FROM (SELECT a.id, a.txid, a.at, a.actor, a.lender_id, a.loan_id, a.type, a.detail
                      FROM audit_event a
                     WHERE (a.txid, a.id) > (last_txid, last_id) AND a.txid < horizon
                     ORDER BY a.txid, a.id
                     LIMIT max_events) e) b;
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

-- The status filter of GET /v1/loans (docs/queries.md, "Indexes and plans").
-- A loan's status depends on now() and so cannot be indexed, but which of
-- three states it is in cannot change with time: cancelled (2), disbursed
-- (1) or still open (0, the four statuses of a loan under way). The list's
-- statements add the state that the asked status implies to their WHERE,
-- so that the rows of that state come from this index in the list's order:
-- a rare status reads at most the loans of its state, no longer every loan.
CREATE INDEX loan_state_approved_idx ON loan
    ((CASE WHEN cancelled_at IS NOT NULL THEN 2 WHEN disbursed_at IS NOT NULL THEN 1 ELSE 0 END),
     approved_at DESC, id DESC);
CREATE INDEX loan_lender_state_approved_idx ON loan
    (lender_id,
     (CASE WHEN cancelled_at IS NOT NULL THEN 2 WHEN disbursed_at IS NOT NULL THEN 1 ELSE 0 END),
     approved_at DESC, id DESC);
