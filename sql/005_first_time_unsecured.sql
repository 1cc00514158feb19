-- The first-time rule counts disbursed unsecured loans only (REGULATION.md
-- speaks of the first unsecured loan): a secured loan in the past does not
-- waive the visit for the first unsecured one. This partial index holds
-- exactly the loans that make a borrower not first-time, so the approval's
-- NOT EXISTS stays one index lookup however many loans a borrower has.
CREATE INDEX loan_first_time_idx ON loan (borrower_iin)
    WHERE disbursed_at IS NOT NULL AND NOT secured;
