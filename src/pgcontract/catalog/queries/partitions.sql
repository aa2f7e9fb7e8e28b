-- Partitioning and inheritance of the tables in scope: one row per partitioned table (its key, as
-- pg_get_partkeydef prints it) and per (child, parent) pair of pg_inherits: the partition's bound
-- (pg_get_expr of relpartbound: 'FOR VALUES ...' or 'DEFAULT') and whether a DETACH CONCURRENTLY was left
-- pending (PostgreSQL 14+, read through to_jsonb so that the query still runs on 13).
SELECT n.nspname AS schema,
       c.relname AS table,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       c.relispartition AS is_partition,
       pn.nspname AS parent_schema,
       p.relname AS parent_table,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
       coalesce((to_jsonb(i) ->> 'inhdetachpending')::boolean, false) AS detach_pending
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
LEFT JOIN pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND (c.relkind = 'p' OR i.inhrelid IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
ORDER BY n.nspname, c.relname, i.inhseqno
