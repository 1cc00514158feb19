-- The oldest release of coolingd that can still run on each schema version,
-- so that a rolling upgrade keeps the old daemons serving (docs/upgrading.md).
-- Every migration from this one on ends with the row of its own version: an
-- expand migration (it only adds what the old release does not use) repeats
-- the previous row's min_release, a contract migration (it drops or changes
-- what a release still uses) raises it to the release that stopped using it.
-- A daemon is ready while the database's schema is at least its own and the
-- min_release of the newest version is not above its own release; a version
-- without its row makes every daemon not ready.
--
-- The releases before 0.2.0 do not read this table: they are ready only on
-- the schema they were built for, so this first row names 0.2.0.

CREATE TABLE schema_release (
    version integer PRIMARY KEY,
    min_release text NOT NULL CHECK (min_release ~ '^[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}$')
);
ALTER TABLE schema_release OWNER TO coolingd_owner;
GRANT SELECT ON schema_release TO coolingd_app;

INSERT INTO schema_release (version, min_release) VALUES (12, '0.2.0');
