-- The request guard's check (not part of the snapshot): which required tables and columns do not exist?
-- Parameters: three parallel arrays (schema, table, column; column NULL for the table itself), so every
-- name is data, never SQL. Views, materialized views and foreign tables count as tables here: the
-- application only needs something it can select from.
SELECT r.ord, r.schema_name, r.table_name, r.column_name
FROM unnest(%(schemas)s::text[], %(tables)s::text[], %(columns)s::text[]) WITH ORDINALITY
     AS r(schema_name, table_name, column_name, ord)
WHERE NOT EXISTS (
  SELECT 1
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = r.schema_name
    AND c.relname = r.table_name
    AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    AND (r.column_name IS NULL OR EXISTS (
      SELECT 1 FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = c.oid AND a.attname = r.column_name AND a.attnum > 0 AND NOT a.attisdropped
    ))
)
ORDER BY r.ord
