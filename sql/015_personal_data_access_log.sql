-- The personal-data access log (CONTRACT.md v1.2, "Least privilege and
-- personal data"): who looked at which borrower or loan, written by the
-- daemon before it answers a borrower look-up or a compliance or auditor
-- read of a loan, and read by auditors through the API. Append-only: the
-- application role may insert and read, and a trigger refuses every change
-- or removal, whoever asks, so that a record of a look-up cannot be undone.
--
-- An expand migration: a table that the previous release does not know.

CREATE TABLE access_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    client       text NOT NULL,
    role         text NOT NULL CHECK (role IN ('lender', 'compliance', 'auditor', 'registry')),
    route        text NOT NULL,
    borrower_iin text CHECK (borrower_iin ~ '^[0-9]{12}$'),
    lender       text,
    loan_id      text,
    request_id   text NOT NULL DEFAULT '',
    CHECK (borrower_iin IS NOT NULL OR loan_id IS NOT NULL),
    CHECK ((lender IS NULL) = (loan_id IS NULL))
);

-- GET /v1/access-log pages by time, oldest first; "who looked at this
-- person" finds an IIN's rows, "who read this loan" a loan's.
CREATE INDEX access_log_at_idx ON access_log (at, id);
CREATE INDEX access_log_iin_idx ON access_log (borrower_iin, at, id)
    WHERE borrower_iin IS NOT NULL;
CREATE INDEX access_log_loan_idx ON access_log (lender, loan_id, at, id)
    WHERE loan_id IS NOT NULL;

CREATE FUNCTION cd_access_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the personal-data access log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION cd_access_log_refuse_change();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION cd_access_log_refuse_change();

ALTER TABLE access_log OWNER TO coolingd_owner;
ALTER FUNCTION cd_access_log_refuse_change() OWNER TO coolingd_owner;
GRANT SELECT, INSERT ON access_log TO coolingd_app;
GRANT USAGE ON SEQUENCE access_log_id_seq TO coolingd_app;
-- an auditor with a database login answers "who looked at whom" too; reads only
GRANT SELECT ON access_log TO coolingd_reader;

INSERT INTO schema_release (version, min_release) VALUES (15, '0.2.0');
