-- Indexes of the tables (and materialized views) in scope: key columns (NULL where the key is an expression), key expressions,
-- per key DESC, NULLS FIRST and a non-default operator class (and its schema, unless pg_catalog: an extension's), INCLUDE columns, uniqueness, access method
-- and predicate; NULLS NOT DISTINCT (PostgreSQL 15+, through to_jsonb for 13 and 14); inherited: the index is
-- a partition's clone of its parent's.
SELECT n.nspname AS schema,
       t.relname AS table,
       i.relname AS name,
       ix.indisunique AS is_unique,
       ix.indisprimary AS is_primary,
       am.amname AS method,
       ARRAY(SELECT CASE WHEN ix.indkey[k - 1] = 0 THEN NULL ELSE a.attname::text END
             FROM generate_series(1, ix.indnkeyatts) AS k
             LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[k - 1]
             ORDER BY k) AS key_columns,
       ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k, true)
             FROM generate_series(1, ix.indnkeyatts) AS k
             ORDER BY k) AS key_texts,
       ARRAY(SELECT (ix.indoption[k - 1] & 1) <> 0
             FROM generate_series(1, ix.indnkeyatts) AS k
             ORDER BY k) AS key_desc,
       ARRAY(SELECT (ix.indoption[k - 1] & 2) <> 0
             FROM generate_series(1, ix.indnkeyatts) AS k
             ORDER BY k) AS key_nulls_first,
       ARRAY(SELECT CASE WHEN opc.opcdefault THEN NULL ELSE opc.opcname::text END
             FROM generate_series(1, ix.indnkeyatts) AS k
             LEFT JOIN pg_opclass opc ON opc.oid = ix.indclass[k - 1]
             ORDER BY k) AS key_opclasses,
       ARRAY(SELECT CASE WHEN opc.opcdefault OR opc.opcnamespace = 'pg_catalog'::regnamespace THEN NULL
                         ELSE opcn.nspname::text END
             FROM generate_series(1, ix.indnkeyatts) AS k
             LEFT JOIN pg_opclass opc ON opc.oid = ix.indclass[k - 1]
             LEFT JOIN pg_namespace opcn ON opcn.oid = opc.opcnamespace
             ORDER BY k) AS key_opclass_schemas,
       ARRAY(SELECT a.attname::text
             FROM generate_series(ix.indnkeyatts + 1, ix.indnatts) AS k
             JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[k - 1]
             ORDER BY k) AS include,
       pg_get_expr(ix.indpred, ix.indrelid) AS predicate,
       ix.indisvalid AS valid,
       pg_get_indexdef(ix.indexrelid) AS definition,
       coalesce((to_jsonb(ix) ->> 'indnullsnotdistinct')::boolean, false) AS nulls_not_distinct,
       EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = ix.indexrelid) AS inherited
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
WHERE t.relkind IN ('r', 'p', 'm')
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = t.oid AND e.deptype = 'e')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
ORDER BY n.nspname, t.relname, i.relname
