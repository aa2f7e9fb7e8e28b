-- Operations budgets: invalid indexes (a failed CREATE INDEX CONCURRENTLY leaves one), and indexes never
-- scanned since the statistics were reset that no constraint needs (unique and primary keys are not
-- "unused": they enforce something), with their size.
SELECT n.nspname::text AS schema,
       t.relname::text AS table,
       i.relname::text AS name,
       x.indisvalid AS valid,
       pg_catalog.pg_relation_size(i.oid)::float8 AS bytes,
       s.idx_scan::float8 AS scans
FROM pg_catalog.pg_index AS x
JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_class AS t ON t.oid = x.indrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = t.relnamespace
LEFT JOIN pg_catalog.pg_stat_all_indexes AS s ON s.indexrelid = x.indexrelid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND t.relpersistence <> 't'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = t.oid AND d.deptype = 'e')
  AND (NOT x.indisvalid
       OR (coalesce(s.idx_scan, 0) = 0 AND NOT x.indisunique AND NOT x.indisprimary
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS k WHERE k.conindid = x.indexrelid)))
ORDER BY n.nspname, t.relname, i.relname
