-- The core schema: lenders, API clients, the MRP table, loans, the audit
-- trail and idempotency records. Money is integer tiyn; time is timestamptz.

-- Microseconds since the epoch <-> timestamptz, exactly (no floating point).
CREATE FUNCTION cd_us(t timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (extract(epoch FROM t) * 1000000)::bigint;

CREATE FUNCTION cd_ts(us bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN 'epoch'::timestamptz + us * interval '1 microsecond';

CREATE TABLE lender (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    kind        text NOT NULL CHECK (kind IN ('bank', 'mfo')),
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens: only a SHA-256 of the token is kept. token_id is the
-- public part of the token, used to find the row; the hash is then compared
-- in constant time by the daemon.
CREATE TABLE api_client (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._:-]{1,64}$'),
    role        text NOT NULL CHECK (role IN ('lender', 'compliance', 'auditor')),
    lender_id   text REFERENCES lender (id),
    token_id    text NOT NULL UNIQUE,
    token_hash  bytea NOT NULL CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK ((role = 'lender') = (lender_id IS NOT NULL))
);

-- The MRP in force from a local (Asia/Almaty) date until the next row.
CREATE TABLE mrp (
    valid_from  date PRIMARY KEY,
    tenge       integer NOT NULL CHECK (tenge > 0),
    set_at      timestamptz NOT NULL DEFAULT now()
);

INSERT INTO mrp (valid_from, tenge) VALUES
    ('2023-01-01', 3450),
    ('2024-01-01', 3692),
    ('2025-01-01', 3932),
    ('2026-01-01', 4325);

CREATE TABLE loan (
    id                     bigserial PRIMARY KEY,
    lender_id              text NOT NULL REFERENCES lender (id),
    loan_id                text NOT NULL CHECK (loan_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    borrower_iin           text NOT NULL CHECK (borrower_iin ~ '^[0-9]{12}$'),
    amount_tiyn            bigint NOT NULL CHECK (amount_tiyn > 0 AND amount_tiyn <= 99999999999999),
    currency               text NOT NULL DEFAULT 'KZT' CHECK (currency = 'KZT'),
    channel                text NOT NULL CHECK (channel IN ('online', 'branch')),
    secured                boolean NOT NULL,
    first_time_borrower    boolean NOT NULL,
    first_time_given       boolean NOT NULL,
    policy                 text NOT NULL,
    mrp_tenge              integer NOT NULL,
    threshold_tiyn         bigint NOT NULL,
    cooling_required       boolean NOT NULL,
    cooling_period_s       bigint,
    in_person_required     boolean NOT NULL,
    approved_at            timestamptz NOT NULL,
    consent_at             timestamptz,
    cooling_ends_at        timestamptz,
    in_person_verified_at  timestamptz,
    in_person_branch_id    text,
    in_person_officer_id   text,
    disbursed_at           timestamptz,
    cancelled_at           timestamptz,
    cancel_reason          text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lender_id, loan_id),
    CHECK (cooling_required = (cooling_period_s IS NOT NULL)),
    CHECK (NOT cooling_required OR consent_at IS NULL OR cooling_ends_at IS NOT NULL),
    CHECK (disbursed_at IS NULL OR cancelled_at IS NULL),
    -- the last line of defence: a disbursed loan had every act it needed
    CHECK (disbursed_at IS NULL OR (consent_at IS NOT NULL
           AND (NOT cooling_required OR cooling_ends_at <= disbursed_at)
           AND (NOT in_person_required OR in_person_verified_at IS NOT NULL)))
);

CREATE INDEX loan_borrower_idx ON loan (borrower_iin, approved_at DESC, id DESC);

-- Append-only; the hash chain over it comes with the audit export work.
CREATE TABLE audit_event (
    seq         bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    lender_id   text,
    loan_id     text,
    type        text NOT NULL CHECK (type IN ('approval_recorded', 'consent_recorded',
                    'in_person_verified', 'cancelled', 'disbursement_allowed',
                    'disbursement_refused', 'lender_added', 'client_added',
                    'client_revoked', 'mrp_set')),
    detail      jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_event_loan_idx ON audit_event (lender_id, loan_id, seq);

-- The first answer to a disbursement with an Idempotency-Key. body is the
-- refusal as sent; NULL for an allowed disbursement, whose loan no longer
-- changes and is rendered again.
CREATE TABLE disbursement_idempotency (
    lender_id   text NOT NULL REFERENCES lender (id),
    key         text NOT NULL,
    loan_pk     bigint NOT NULL REFERENCES loan (id),
    status      integer NOT NULL,
    body        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lender_id, key)
);
