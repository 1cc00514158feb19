-- The decision statistics' counter (sql/008) once per sealing statement
-- instead of once per chained event: the sealer appends a whole batch with
-- one INSERT (sql/009), and a row trigger put back a PL/pgSQL call and a
-- look-up per event. The statement trigger reads the batch's rows from its
-- transition table, counts them per (hour, lender, decision, blocker) in
-- one set-based INSERT, and adds each count once, so that no counter row is
-- touched twice by one statement.

CREATE FUNCTION cd_decision_count_batch() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO decision_hourly AS d (hour, lender_id, decision, blocker, n)
    SELECT cd_utc_hour(e.at), coalesce(e.lender_id, ''), k.decision, k.blocker, count(*)
      FROM sealed c
      JOIN audit_event e ON e.id = c.event_id,
           cd_decision_keys(e.type, e.detail) k
     WHERE e.type IN ('disbursement_allowed', 'disbursement_refused')
     GROUP BY 1, 2, 3, 4
        ON CONFLICT (hour, lender_id, decision, blocker) DO UPDATE SET n = d.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

DROP TRIGGER audit_chain_decision_count ON audit_chain;
CREATE TRIGGER audit_chain_decision_count AFTER INSERT ON audit_chain
    REFERENCING NEW TABLE AS sealed
    FOR EACH STATEMENT EXECUTE FUNCTION cd_decision_count_batch();
DROP FUNCTION cd_decision_count();

ALTER FUNCTION cd_decision_count_batch() OWNER TO coolingd_owner;
REVOKE ALL ON FUNCTION cd_decision_count_batch() FROM PUBLIC;
