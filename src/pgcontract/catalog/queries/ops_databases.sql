-- Operations budgets: per database, its connection limit and the age of its oldest transaction id and
-- multixact (what wraparound is measured against).
SELECT d.datname::text AS name,
       d.datconnlimit AS connection_limit,
       pg_catalog.age(d.datfrozenxid)::float8 AS xid_age,
       pg_catalog.mxid_age(d.datminmxid)::float8 AS multixact_age
FROM pg_catalog.pg_database AS d
ORDER BY d.datname
