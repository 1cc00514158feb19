\set loan_no :read_base + random(1, :read_n)
SELECT * FROM ref_loans WHERE lender = :lender AND loan_id = :loan_no;
