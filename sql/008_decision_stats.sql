-- Decision statistics (GET /v1/stats/decisions, docs/queries.md): the
-- disbursement decisions of the audit trail counted per UTC hour, lender,
-- decision and blocker, so that a query over any 1,000 buckets reads a few
-- thousand rows however many decisions there are.
--
-- The counts follow the chain, not the writers: a trigger on audit_chain
-- counts each decision when the sealer chains its event. The sealer is one
-- writer at a time (cd_audit_seal's advisory lock), so the counters add no
-- row lock that concurrent payouts of one lender would queue on, and the
-- statistics count exactly the events that GET /v1/audit shows.

-- The UTC hour that t falls in.
CREATE FUNCTION cd_utc_hour(t timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_trunc('hour', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';

-- What one audit event adds to the counts: ('allowed', '') for an allowed
-- disbursement; ('refused', '') and ('refused', blocker) for each distinct
-- blocker of a refused one; nothing for any other event. It never raises,
-- whatever detail holds, so that no event can stop the sealer.
CREATE FUNCTION cd_decision_keys(type text, detail jsonb)
    RETURNS TABLE (decision text, blocker text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'allowed', '' WHERE type = 'disbursement_allowed'
    UNION ALL
    SELECT 'refused', '' WHERE type = 'disbursement_refused'
    UNION ALL
    SELECT DISTINCT 'refused', b
      FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(detail -> 'blockers') = 'array'
                                          THEN detail -> 'blockers' ELSE '[]' END) AS b
     WHERE type = 'disbursement_refused' AND b <> ''
$$;

-- blocker '' is the decision's own count; a refusal adds one to it and one
-- to each of its blockers. lender_id is '' for a decision without one (none
-- is written so; it keeps a hand-made event from stopping the sealer).
CREATE TABLE decision_hourly (
    hour       timestamptz NOT NULL CHECK (hour = cd_utc_hour(hour)),
    lender_id  text NOT NULL,
    decision   text NOT NULL CHECK (decision IN ('allowed', 'refused')),
    blocker    text NOT NULL CHECK (decision = 'refused' OR blocker = ''),
    n          bigint NOT NULL CHECK (n > 0),
    PRIMARY KEY (hour, lender_id, decision, blocker)
);

-- Runs for every event the sealer chains: other events leave after one
-- primary-key lookup.
CREATE FUNCTION cd_decision_count() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    e record;
BEGIN
    SELECT a.at, a.lender_id, a.type, a.detail INTO e FROM audit_event a WHERE a.id = NEW.event_id;
    IF e.type IS DISTINCT FROM 'disbursement_allowed'
       AND e.type IS DISTINCT FROM 'disbursement_refused' THEN
        RETURN NULL;
    END IF;
    INSERT INTO decision_hourly AS d (hour, lender_id, decision, blocker, n)
    SELECT cd_utc_hour(e.at), coalesce(e.lender_id, ''), k.decision, k.blocker, 1
      FROM cd_decision_keys(e.type, e.detail) k
        ON CONFLICT (hour, lender_id, decision, blocker) DO UPDATE SET n = d.n + 1;
    RETURN NULL;
END
$$;

-- The decisions sealed before this migration, counted while no sealer can
-- add to the chain (the lock is held until the migration commits, and the
-- trigger counts every event sealed after it).
LOCK TABLE audit_chain IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO decision_hourly (hour, lender_id, decision, blocker, n)
SELECT cd_utc_hour(e.at), coalesce(e.lender_id, ''), k.decision, k.blocker, count(*)
  FROM audit_chain c
  JOIN audit_event e ON e.id = c.event_id,
       cd_decision_keys(e.type, e.detail) k
 WHERE e.type IN ('disbursement_allowed', 'disbursement_refused')
 GROUP BY 1, 2, 3, 4;

CREATE TRIGGER audit_chain_decision_count AFTER INSERT ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION cd_decision_count();

ALTER TABLE decision_hourly OWNER TO coolingd_owner;
ALTER FUNCTION cd_utc_hour(timestamptz) OWNER TO coolingd_owner;
ALTER FUNCTION cd_decision_keys(text, jsonb) OWNER TO coolingd_owner;
ALTER FUNCTION cd_decision_count() OWNER TO coolingd_owner;
REVOKE ALL ON FUNCTION cd_decision_count() FROM PUBLIC;
-- the daemon only reads the counts; the trigger (as the owner) writes them
GRANT SELECT ON decision_hourly TO coolingd_app;
