-- The tamper-evident audit trail and least privilege (docs/audit.md).
--
-- Writers append to audit_event without any shared lock. A sealer
-- (cd_audit_seal, run by coolingd every few hundred milliseconds and by
-- coolingctl before exports) then gives committed events their public
-- sequence number and a SHA-256 hash that chains each to the one before, in
-- audit_chain. Events are sealed in (txid, id) order, and only once every
-- transaction that could still add an earlier one has ended, so the chain
-- never needs to be rewritten.

ALTER TABLE audit_event RENAME COLUMN seq TO id;
ALTER TABLE audit_event ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX audit_event_txid_idx ON audit_event (txid, id);

CREATE TABLE audit_chain (
    seq        bigint PRIMARY KEY CHECK (seq > 0),
    event_id   bigint NOT NULL UNIQUE REFERENCES audit_event (id),
    txid       xid8 NOT NULL,
    hash       bytea NOT NULL CHECK (length(hash) = 32),
    sealed_at  timestamptz NOT NULL DEFAULT now()
);

-- The bytes that are hashed. coolingctl audit verify builds the same bytes in
-- C from the raw columns (lib/audit_hash.c); a test compares the two.
CREATE FUNCTION cd_audit_canonical(seq bigint, at timestamptz, actor text, lender text,
                                   loan text, type text, detail jsonb) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN convert_to(seq::text || E'\n' || cd_us(at)::text || E'\n' || actor || E'\n'
                      || coalesce(lender, '') || E'\n' || coalesce(loan, '') || E'\n'
                      || type || E'\n' || detail::text, 'UTF8');

CREATE FUNCTION cd_audit_seal(max_events integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    last_seq  bigint;
    last_hash bytea;
    last_txid xid8;
    last_id   bigint;
    horizon   xid8;
    sealed    integer := 0;
    e         record;
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
    FOR e IN
        SELECT a.id, a.txid, a.at, a.actor, a.lender_id, a.loan_id, a.type, a.detail
          FROM audit_event a
         WHERE (a.txid, a.id) > (last_txid, last_id) AND a.txid < horizon
         ORDER BY a.txid, a.id
         LIMIT max_events
    LOOP
        last_seq := last_seq + 1;
        last_hash := sha256(last_hash || cd_audit_canonical(last_seq, e.at, e.actor,
                                                             e.lender_id, e.loan_id, e.type,
                                                             e.detail));
        INSERT INTO audit_chain (seq, event_id, txid, hash)
             VALUES (last_seq, e.id, e.txid, last_hash);
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END
$$;

-- Append-only, whoever asks: even the owner's UPDATE or DELETE is refused.
CREATE FUNCTION cd_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION cd_refuse_change();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION cd_refuse_change();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION cd_refuse_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION cd_refuse_change();

-- Exports for cron: the last sequence number a job has delivered, and the
-- range it is delivering now (so that a crash repeats nothing).
CREATE TABLE export_job (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._:-]{1,64}$'),
    last_seq      bigint NOT NULL DEFAULT 0,
    pending_to    bigint,
    pending_file  text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Compliance queries: newest first, by lender or across lenders.
CREATE INDEX loan_approved_idx ON loan (approved_at DESC, id DESC);
CREATE INDEX loan_lender_approved_idx ON loan (lender_id, approved_at DESC, id DESC);

-- Roles. coolingd_owner owns the schema (migrations run as it, or as a
-- superuser); coolingd_app is what the daemon's login role should be a member
-- of: it reads and writes loans, appends audit events and seals them through
-- cd_audit_seal, and can change nothing in the trail.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coolingd_owner') THEN
        CREATE ROLE coolingd_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coolingd_app') THEN
        CREATE ROLE coolingd_app NOLOGIN;
    END IF;
END
$$;

ALTER TABLE lender OWNER TO coolingd_owner;
ALTER TABLE api_client OWNER TO coolingd_owner;
ALTER TABLE mrp OWNER TO coolingd_owner;
ALTER TABLE loan OWNER TO coolingd_owner;
ALTER TABLE audit_event OWNER TO coolingd_owner;
ALTER TABLE audit_chain OWNER TO coolingd_owner;
ALTER TABLE disbursement_idempotency OWNER TO coolingd_owner;
ALTER TABLE export_job OWNER TO coolingd_owner;
ALTER TABLE schema_migrations OWNER TO coolingd_owner;
ALTER FUNCTION cd_audit_seal(integer) OWNER TO coolingd_owner;
ALTER FUNCTION cd_audit_canonical(bigint, timestamptz, text, text, text, text, jsonb)
    OWNER TO coolingd_owner;
ALTER FUNCTION cd_us(timestamptz) OWNER TO coolingd_owner;
ALTER FUNCTION cd_ts(bigint) OWNER TO coolingd_owner;
ALTER FUNCTION cd_refuse_change() OWNER TO coolingd_owner;

REVOKE ALL ON FUNCTION cd_audit_seal(integer) FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO coolingd_app;
GRANT SELECT ON lender, api_client, mrp, schema_migrations TO coolingd_app;
GRANT SELECT, INSERT, UPDATE ON loan TO coolingd_app;
GRANT SELECT, INSERT ON audit_event, disbursement_idempotency TO coolingd_app;
GRANT SELECT ON audit_chain TO coolingd_app;
-- the export timer runs coolingctl with the daemon's configuration
GRANT SELECT, INSERT, UPDATE ON export_job TO coolingd_app;
GRANT USAGE ON SEQUENCE loan_id_seq, audit_event_seq_seq TO coolingd_app;
GRANT EXECUTE ON FUNCTION cd_audit_seal(integer) TO coolingd_app;
