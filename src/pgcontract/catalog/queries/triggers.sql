-- Triggers the application made (not those implementing foreign keys, not clones of a partitioned
-- table's trigger on its partitions, not an extension's): on a table or view in scope, or calling a
-- function in scope (the signup trigger on auth.users runs the application's function, so it is the
-- application's even though auth is the platform's). Timing, events, UPDATE OF columns, row or statement,
-- the function, the enabled state (O, D, R, A); WHEN and the function's arguments come from the definition.
SELECT n.nspname AS schema,
       c.relname AS table,
       t.tgname AS name,
       CASE WHEN t.tgtype & 2 <> 0 THEN 'before' WHEN t.tgtype & 64 <> 0 THEN 'instead of' ELSE 'after' END AS timing,
       ARRAY(SELECT e.name FROM (VALUES (4, 'insert', 1), (16, 'update', 2), (8, 'delete', 3), (32, 'truncate', 4))
                                AS e (bit, name, position)
             WHERE t.tgtype & e.bit <> 0 ORDER BY e.position) AS events,
       ARRAY(SELECT a.attname::text FROM unnest(t.tgattr::int2[]) WITH ORDINALITY AS k (attnum, position)
             JOIN pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = k.attnum
             ORDER BY k.position) AS columns,
       t.tgtype & 1 <> 0 AS for_each_row,
       fn.nspname AS function_schema,
       p.proname AS function_name,
       t.tgoldtable::text AS old_table,
       t.tgnewtable::text AS new_table,
       t.tgenabled::text AS enabled,
       pg_get_triggerdef(t.oid) AS definition
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace fn ON fn.oid = p.pronamespace
WHERE NOT t.tgisinternal
  AND t.tgparentid = 0
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.deptype = 'e'
                    AND ((e.classid = 'pg_trigger'::regclass AND e.objid = t.oid)
                         OR (e.classid = 'pg_class'::regclass AND e.objid = c.oid)))
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[])
       OR fn.nspname = ANY (%(schemas)s::text[]))
ORDER BY 1, 2, 3
