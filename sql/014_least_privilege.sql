-- Least privilege (CONTRACT.md v1.2, docs/security.md): a role for those
-- who only look and one for the operator commands, so that nobody but the
-- daemon logs in with coolingd_app's right to write loans and seal; and
-- tokens that expire and show when they were last used.
--
-- coolingd_reader reads what compliance and auditors read (loans, lenders,
--   the MRP, the refusal registry, the audit trail and its checkpoints, the
--   decision counts): no write of any kind, no sealing, no API client.
-- coolingd_admin is a member of coolingd_reader and may do what coolingctl's
--   operator commands do (lender add, client add/revoke/list, mrp set,
--   refusals import, webhook add/list/remove) and append their audit
--   events; it cannot write a loan, seal, or read a token's id or hash or a
--   webhook's sealed secret.
--
-- Both are NOLOGIN group roles, as coolingd_app: a person's login role is
-- made a member of one (docs/operations.md). Creating them needs a
-- superuser (or CREATEROLE), as the first migration did. Roles belong to
-- the server, not to one database: a second database on the same server
-- (or a concurrent migration of one) finds them made already.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['coolingd_reader', 'coolingd_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;

-- A token may have an end: from then on it is answered 401 (token
-- expired), by the database's clock. NULL: it never expires.
ALTER TABLE api_client ADD COLUMN expires_at timestamptz;
-- When the daemon last accepted the token, to a minute (for an access
-- review); NULL: never.
ALTER TABLE api_client ADD COLUMN last_used_at timestamptz;
GRANT UPDATE (last_used_at) ON api_client TO coolingd_app;

GRANT USAGE ON SCHEMA public TO coolingd_reader, coolingd_admin;
GRANT SELECT ON lender, mrp, loan, audit_event, audit_chain, audit_checkpoint,
    voluntary_refusal, decision_hourly, schema_migrations, schema_release
    TO coolingd_reader;

GRANT coolingd_reader TO coolingd_admin;
GRANT INSERT ON lender TO coolingd_admin;
GRANT INSERT, UPDATE ON mrp TO coolingd_admin;
-- the client's columns, never token_id or token_hash: an access review
-- (client list) needs no secret
GRANT SELECT (id, name, role, lender_id, created_at, revoked_at, expires_at, last_used_at),
    INSERT (name, role, lender_id, token_id, token_hash, expires_at),
    UPDATE (revoked_at)
    ON api_client TO coolingd_admin;
GRANT USAGE ON SEQUENCE api_client_id_seq TO coolingd_admin;
GRANT INSERT ON voluntary_refusal TO coolingd_admin;
GRANT USAGE ON SEQUENCE voluntary_refusal_seq_seq TO coolingd_admin;
-- webhook add/list/remove, never the sealed secret back
GRANT SELECT (id, lender_id, url, delivered_seq, failures, next_attempt_at, last_error,
              created_at, removed_at),
    INSERT (lender_id, url, secret_sealed, delivered_seq),
    UPDATE (removed_at, lease_owner)
    ON webhook TO coolingd_admin;
GRANT USAGE ON SEQUENCE webhook_id_seq TO coolingd_admin;
GRANT INSERT ON audit_event TO coolingd_admin;
GRANT USAGE ON SEQUENCE audit_event_seq_seq TO coolingd_admin;

INSERT INTO schema_release (version, min_release) VALUES (14, '0.2.0');
