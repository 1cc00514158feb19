-- Signed checkpoints of the audit chain (docs/audit.md, "Checkpoints").
--
-- The chain alone cannot show that its newest events were cut off, or that
-- someone with superuser access recomputed every hash from an event on. So
-- coolingd signs, after sealing, the chain's head (seq, hash, time) with an
-- Ed25519 key that only the daemon holds, and stores the signature here.
-- The database never sees the private key: it can keep or lose a
-- checkpoint, never make one. `coolingctl audit verify --public-key` checks
-- each against the chain.

CREATE TABLE audit_checkpoint (
    seq        bigint NOT NULL CHECK (seq > 0),
    hash       bytea NOT NULL CHECK (length(hash) = 32),
    -- the time that was signed, the database's now() when the head was read
    signed_at  timestamptz NOT NULL,
    -- SHA-256 of the raw 32-byte Ed25519 public key, lower-case hex
    key_id     text NOT NULL CHECK (key_id ~ '^[0-9a-f]{64}$'),
    signature  bytea NOT NULL CHECK (length(signature) = 64),
    PRIMARY KEY (seq, key_id)
);

CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION cd_refuse_change();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION cd_refuse_change();

-- Seals like cd_audit_seal, then gives the chain's head as it is now (NULLs
-- while the chain is empty), the database's time, and whether the signer
-- (a key id) has signed that head already. One function, so that the head
-- is read after the sealing in the same transaction.
CREATE FUNCTION cd_audit_seal_head(max_events integer, signer text)
    RETURNS TABLE (sealed integer, head_seq bigint, head_hash bytea, now_us bigint,
                   signed boolean)
    LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    n := cd_audit_seal(max_events);
    RETURN QUERY
        SELECT n, h.seq, h.hash, cd_us(now()),
               coalesce((SELECT true FROM audit_checkpoint k
                          WHERE k.seq = h.seq AND k.key_id = signer), false)
          FROM (SELECT 1) AS one
          LEFT JOIN LATERAL (SELECT c.seq, c.hash FROM audit_chain c
                              ORDER BY c.seq DESC LIMIT 1) h ON true;
END
$$;

ALTER TABLE audit_checkpoint OWNER TO coolingd_owner;
ALTER FUNCTION cd_audit_seal_head(integer, text) OWNER TO coolingd_owner;
REVOKE ALL ON FUNCTION cd_audit_seal_head(integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cd_audit_seal_head(integer, text) TO coolingd_app;
-- append-only for the daemon too: it adds checkpoints and reads them
GRANT SELECT, INSERT ON audit_checkpoint TO coolingd_app;
