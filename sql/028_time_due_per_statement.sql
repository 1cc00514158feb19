-- The ends of the cooling periods of the loans that a statement inserted,
-- queued by one insert per statement (sql/013 queued them by a trigger per
-- row): a batch of approvals is one statement, and a trigger per row paid,
-- for each loan, a PL/pgSQL call, a change of user and of search_path, and
-- an insert of its own. The queue is the same; the update's trigger per
-- row stays (a consent is one loan, and a trigger with a column list has
-- no transition table).
CREATE FUNCTION cd_time_due_loans() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO time_event_due (due_at, loan_pk)
    SELECT n.cooling_ends_at, n.id FROM inserted n
     WHERE n.cooling_ends_at IS NOT NULL ORDER BY n.id;
    RETURN NULL;
END
$$;
ALTER FUNCTION cd_time_due_loans() OWNER TO coolingd_owner;
REVOKE ALL ON FUNCTION cd_time_due_loans() FROM PUBLIC;

DROP TRIGGER loan_time_due_insert ON loan;
CREATE TRIGGER loan_time_due_insert AFTER INSERT ON loan
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION cd_time_due_loans();

INSERT INTO schema_release (version, min_release) VALUES (28, '0.2.0');
