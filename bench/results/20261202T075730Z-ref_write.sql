\set seq :seq + 1
\set loan_no :id_base + :client_id * 1000000 + :seq
\set iin 900101300000 + random(0, :niins - 1)
BEGIN;
INSERT INTO ref_loans (lender, loan_id, iin, amount_tiyn, channel, secured, first_time, consent_at, cooling_ends_at, mrp, threshold_tiyn, state) VALUES (:lender, :loan_no, :iin, :amount_tiyn, :channel, :secured, :first_time, now(), now() + make_interval(secs => :period_s), :mrp, :threshold, 'cooling');
INSERT INTO ref_audit (actor, lender, loan_id, kind, detail) VALUES (:actor, :lender, :loan_no, 'approval_recorded', :detail);
COMMIT;
