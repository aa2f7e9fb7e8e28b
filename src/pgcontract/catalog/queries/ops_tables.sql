-- Operations budgets: every table of the application (PostgreSQL's own schemas and what extensions own
-- are out), its total size (heap, indexes, TOAST) and its live and dead rows, in one query.
SELECT n.nspname::text AS schema,
       c.relname::text AS name,
       pg_catalog.pg_total_relation_size(c.oid)::float8 AS total_bytes,
       s.n_live_tup::float8 AS live_rows,
       s.n_dead_tup::float8 AS dead_rows,
       greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_stat_all_tables AS s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm')
  AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
