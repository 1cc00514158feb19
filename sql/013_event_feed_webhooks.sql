-- The lender's event feed, time events and webhooks (CONTRACT.md v1.2,
-- "The lender's event feed and webhooks"; docs/audit.md, docs/api.md,
-- docs/queries.md). An expand migration: it only adds, and a daemon of the
-- release before runs on the schema it leaves.

-- The new event types, with every type of v1.1. NOT VALID: the rows there
-- are fit the old, shorter list, and checking them again would read the
-- whole trail while the table is locked against the daemons' writes (a
-- rolling upgrade runs this under load); new rows are checked all the same.
ALTER TABLE audit_event DROP CONSTRAINT IF EXISTS audit_event_type_check;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_type_check
    CHECK (type IN ('approval_recorded', 'consent_recorded', 'in_person_verified',
                    'cancelled', 'disbursement_allowed', 'disbursement_refused',
                    'lender_added', 'client_added', 'client_revoked', 'mrp_set',
                    'reconfirmation_recorded', 'extra_confirmation_recorded',
                    'voluntary_refusal_set', 'voluntary_refusal_withdrawn',
                    'cooling_period_ended', 'voluntary_refusal_applied',
                    'voluntary_refusal_lifted', 'webhook_added', 'webhook_removed'))
    NOT VALID;

-- The feed of a lender: its events in seq order. The sealer gives seq in
-- (txid, id) order (sql/002), so the sealed events of a lender in seq
-- order are this index's range after the (txid, id) of the reader's last
-- seq; the join to audit_chain keeps only the sealed ones, which come
-- first in that order.
CREATE INDEX audit_event_lender_feed_idx ON audit_event (lender_id, txid, id)
    WHERE lender_id IS NOT NULL;

-- ---- time events ----
--
-- What happens by the clock alone: a consented loan's cooling period ends,
-- a change of the refusal registry takes effect. Each moment to come is a
-- row of time_event_due, added by the triggers below as the loan or the
-- change is written; cd_time_events() takes the rows whose moment has come
-- (a range scan of due_at, as short as the rows due, however many loans
-- there are), writes their audit events and deletes the rows, in one
-- transaction. The table holds only moments still to come, so it stays as
-- small as the loans under way.
CREATE TABLE time_event_due (
    id           bigserial PRIMARY KEY,
    due_at       timestamptz NOT NULL,
    loan_pk      bigint,  -- the end of this loan's cooling period
    refusal_seq  bigint,  -- this change of the refusal registry taking effect
    CHECK ((loan_pk IS NULL) <> (refusal_seq IS NULL))
);
CREATE INDEX time_event_due_at_idx ON time_event_due (due_at, id);

-- Exactly once per loan and moment, as a fact of the trail itself: a
-- second cooling_period_ended of a loan and end, or a second
-- voluntary_refusal_applied/_lifted of a loan and change (the change is
-- unique by IIN, active, effective_at and source; sql/007), is refused.
CREATE UNIQUE INDEX audit_event_time_once_idx ON audit_event
    (lender_id, loan_id, type, (coalesce(detail ->> 'cooling_ends_at', '')),
     (coalesce(detail ->> 'effective_at', '')), (coalesce(detail ->> 'source', '')))
    WHERE type IN ('cooling_period_ended', 'voluntary_refusal_applied',
                   'voluntary_refusal_lifted');

CREATE FUNCTION cd_time_due_loan() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO time_event_due (due_at, loan_pk) VALUES (NEW.cooling_ends_at, NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER loan_time_due_insert AFTER INSERT ON loan
    FOR EACH ROW WHEN (NEW.cooling_ends_at IS NOT NULL) EXECUTE FUNCTION cd_time_due_loan();
CREATE TRIGGER loan_time_due_update AFTER UPDATE OF cooling_ends_at ON loan
    FOR EACH ROW WHEN (NEW.cooling_ends_at IS NOT NULL
                       AND NEW.cooling_ends_at IS DISTINCT FROM OLD.cooling_ends_at)
    EXECUTE FUNCTION cd_time_due_loan();

-- A change takes effect for a loan when it is in force and known: at
-- effective_at, or when it arrives if that is later (a back-dated change).
CREATE FUNCTION cd_time_due_refusal() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO time_event_due (due_at, refusal_seq)
         VALUES (greatest(NEW.effective_at, NEW.recorded_at), NEW.seq);
    RETURN NULL;
END
$$;
CREATE TRIGGER voluntary_refusal_time_due AFTER INSERT ON voluntary_refusal
    FOR EACH ROW EXECUTE FUNCTION cd_time_due_refusal();

-- The moments still to come when this migration runs; those passed before
-- it get no event.
INSERT INTO time_event_due (due_at, loan_pk)
     SELECT l.cooling_ends_at, l.id FROM loan l
      WHERE l.cooling_ends_at > now() AND l.cancelled_at IS NULL AND l.disbursed_at IS NULL;
INSERT INTO time_event_due (due_at, refusal_seq)
     SELECT r.effective_at, r.seq FROM voluntary_refusal r WHERE r.effective_at > now();

-- Writes the events of at most max_rows moments that have come, by the
-- database's clock, in the order of the moments; returns how many moments
-- it took (max_rows: there may be more), or -1 when another session is
-- doing it (one writer at a time, across every daemon, as the sealer). A
-- cooling end gets its event while the loan is consented and neither
-- cancelled nor disbursed, and only for the loan's end of now (an end
-- that moved has a row of its own); a refusal change, for every loan of
-- the IIN recorded before the change took effect and neither cancelled nor
-- disbursed. The unique index above refuses any second event.
CREATE FUNCTION cd_time_events(max_rows integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    n integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7301126013) THEN
        RETURN -1;
    END IF;
    WITH d AS (
        DELETE FROM time_event_due q
         WHERE q.id IN (SELECT t.id FROM time_event_due t WHERE t.due_at <= now()
                         ORDER BY t.due_at, t.id LIMIT max_rows FOR UPDATE SKIP LOCKED)
        RETURNING q.id, q.due_at, q.loan_pk, q.refusal_seq),
    ev AS (
        SELECT d.due_at, d.id, l.id AS loan_pk, l.lender_id, l.loan_id,
               'cooling_period_ended' AS type,
               jsonb_build_object('cooling_ends_at', cd_utc_text(l.cooling_ends_at),
                                  'reconfirmation_required', l.reconfirmation_required) AS detail
          FROM d JOIN loan l ON l.id = d.loan_pk
         WHERE l.cooling_ends_at = d.due_at AND l.consent_at IS NOT NULL
           AND l.cancelled_at IS NULL AND l.disbursed_at IS NULL
        UNION ALL
        SELECT d.due_at, d.id, l.id, l.lender_id, l.loan_id,
               CASE WHEN v.active THEN 'voluntary_refusal_applied'
                    ELSE 'voluntary_refusal_lifted' END,
               jsonb_build_object('effective_at', cd_utc_text(v.effective_at),
                                  'source', v.source)
          FROM d JOIN voluntary_refusal v ON v.seq = d.refusal_seq
                 JOIN loan l ON l.borrower_iin = v.iin
         WHERE l.created_at <= d.due_at AND l.cancelled_at IS NULL AND l.disbursed_at IS NULL),
    ins AS (
        INSERT INTO audit_event (actor, lender_id, loan_id, type, detail)
             SELECT 'coolingd', ev.lender_id, ev.loan_id, ev.type, ev.detail FROM ev
              ORDER BY ev.due_at, ev.id, ev.loan_pk
        ON CONFLICT DO NOTHING)
    -- (ins runs to completion, read or not)
    SELECT count(*) FROM d INTO n;
    RETURN n;
END
$$;

-- ---- webhooks ----
--
-- An endpoint of a lender. The secret is kept encrypted (AES-256-GCM with
-- the key of [webhooks] secret_key; docs/security.md): nonce, ciphertext
-- and tag, never the text. delivered_seq moves only after a 2xx answer;
-- lease_owner/lease_until give the endpoint to one daemon at a time.
CREATE TABLE webhook (
    id               bigserial PRIMARY KEY,
    lender_id        text NOT NULL REFERENCES lender (id),
    url              text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2000),
    secret_sealed    bytea NOT NULL CHECK (length(secret_sealed) = 12 + 64 + 16),
    delivered_seq    bigint NOT NULL DEFAULT 0 CHECK (delivered_seq >= 0),
    failures         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_error       text,
    lease_owner      text,
    lease_until      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    removed_at       timestamptz
);
CREATE INDEX webhook_active_idx ON webhook (id) WHERE removed_at IS NULL;

ALTER TABLE time_event_due OWNER TO coolingd_owner;
ALTER TABLE webhook OWNER TO coolingd_owner;
ALTER FUNCTION cd_time_due_loan() OWNER TO coolingd_owner;
ALTER FUNCTION cd_time_due_refusal() OWNER TO coolingd_owner;
ALTER FUNCTION cd_time_events(integer) OWNER TO coolingd_owner;
REVOKE ALL ON FUNCTION cd_time_events(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cd_time_events(integer) TO coolingd_app;
-- the daemon leases endpoints and moves their cursor; coolingctl adds them
GRANT SELECT, UPDATE ON webhook TO coolingd_app;

-- An expand migration: the oldest release that runs on it stays 0.2.0
-- (docs/upgrading.md).
INSERT INTO schema_release (version, min_release) VALUES (13, '0.2.0');
