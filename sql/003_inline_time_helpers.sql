-- cd_us() and cd_ts() were declared IMMUTABLE, but their bodies use
-- timestamptz arithmetic that PostgreSQL rates STABLE, so it would not inline
-- them and re-evaluated each as a SQL function call per row: a third of the
-- server's CPU on a loan read (docs/performance.md). Declared as what they
-- are, they are inlined into every statement that uses them.
ALTER FUNCTION cd_us(timestamptz) STABLE;
ALTER FUNCTION cd_ts(bigint) STABLE;
ALTER FUNCTION cd_audit_canonical(bigint, timestamptz, text, text, text, text, jsonb) STABLE;
