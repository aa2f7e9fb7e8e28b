-- Primary key, foreign key, unique, check and exclusion constraints of the tables in scope, with their
-- columns in key order, the referenced table and columns, FK actions and the CHECK expression; deferrability,
-- NULLS NOT DISTINCT of the index behind a unique key (PostgreSQL 15+; read through to_jsonb so that the
-- query still runs on 13 and 14) and inherited: cloned from a partitioned parent or inherited from a parent.
-- A key's column is found by its index (attrelid, attnum), not by hashing all the table's columns per
-- constraint (OFFSET 0 keeps the planner from flattening it into that hash join).
SELECT n.nspname AS schema,
       c.relname AS table,
       con.conname AS name,
       con.contype::text AS kind,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             CROSS JOIN LATERAL (SELECT att.attname FROM pg_attribute att
                                 WHERE att.attrelid = con.conrelid AND att.attnum = k.attnum OFFSET 0) AS a
             ORDER BY k.ord) AS columns,
       fn.nspname AS ref_schema,
       fc.relname AS ref_table,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
             CROSS JOIN LATERAL (SELECT att.attname FROM pg_attribute att
                                 WHERE att.attrelid = con.confrelid AND att.attnum = k.attnum OFFSET 0) AS a
             ORDER BY k.ord) AS ref_columns,
       con.confdeltype::text AS on_delete,
       con.confupdtype::text AS on_update,
       CASE WHEN con.contype = 'c' THEN pg_get_expr(con.conbin, con.conrelid) END AS check_expr,
       con.convalidated AS validated,
       pg_get_constraintdef(con.oid) AS definition,
       con.condeferrable AS deferrable,
       con.condeferred AS deferred,
       coalesce((SELECT (to_jsonb(ix) ->> 'indnullsnotdistinct')::boolean
                 FROM pg_index ix WHERE ix.indexrelid = con.conindid AND con.contype IN ('u', 'p')), false)
         AS nulls_not_distinct,
       con.coninhcount > 0 OR con.conparentid <> 0 AS inherited
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.contype IN ('p', 'f', 'u', 'c', 'x')
  AND c.relkind IN ('r', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
ORDER BY n.nspname, c.relname, con.conname
