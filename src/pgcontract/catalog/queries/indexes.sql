-- Indexes of the tables (and materialized views) in scope: key columns (NULL where the key is an expression), key expressions,
-- per key DESC, NULLS FIRST and a non-default operator class (and its schema, unless pg_catalog: an extension's), INCLUDE columns, uniqueness, access method
-- and predicate; NULLS NOT DISTINCT (PostgreSQL 15+, through to_jsonb for 13 and 14); inherited: the index is
-- a partition's clone of its parent's.
-- The keys are read in one pass per index (one LATERAL aggregate, not one sub-select per array), and a key
-- column's text is its quoted name: what pg_get_indexdef(index, k, true) prints for it, without deparsing the
-- whole index again per key; a key's column found by its index (attrelid, attnum), not by hashing all the
-- table's columns per index (OFFSET 0 keeps the planner from flattening it into that hash join).
SELECT n.nspname AS schema,
       t.relname AS table,
       i.relname AS name,
       ix.indisunique AS is_unique,
       ix.indisprimary AS is_primary,
       am.amname AS method,
       keys.key_columns,
       keys.key_texts,
       keys.key_desc,
       keys.key_nulls_first,
       keys.key_opclasses,
       keys.key_opclass_schemas,
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
CROSS JOIN LATERAL (
    SELECT array_agg(CASE WHEN ix.indkey[k - 1] = 0 THEN NULL ELSE a.attname::text END ORDER BY k) AS key_columns,
           array_agg(CASE WHEN ix.indkey[k - 1] = 0 THEN pg_get_indexdef(ix.indexrelid, k, true)
                          ELSE quote_ident(a.attname) END ORDER BY k) AS key_texts,
           array_agg((ix.indoption[k - 1] & 1) <> 0 ORDER BY k) AS key_desc,
           array_agg((ix.indoption[k - 1] & 2) <> 0 ORDER BY k) AS key_nulls_first,
           array_agg(CASE WHEN opc.opcdefault THEN NULL ELSE opc.opcname::text END ORDER BY k) AS key_opclasses,
           array_agg(CASE WHEN opc.opcdefault OR opc.opcnamespace = 'pg_catalog'::regnamespace THEN NULL
                          ELSE opcn.nspname::text END ORDER BY k) AS key_opclass_schemas
    FROM generate_series(1, ix.indnkeyatts) AS k
    LEFT JOIN LATERAL (SELECT att.attname FROM pg_attribute att
                       WHERE att.attrelid = ix.indrelid AND att.attnum = ix.indkey[k - 1] OFFSET 0) AS a ON true
    LEFT JOIN pg_opclass opc ON opc.oid = ix.indclass[k - 1]
    LEFT JOIN pg_namespace opcn ON opcn.oid = opc.opcnamespace
) AS keys
WHERE t.relkind IN ('r', 'p', 'm')
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = t.oid AND e.deptype = 'e')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
ORDER BY n.nspname, t.relname, i.relname
