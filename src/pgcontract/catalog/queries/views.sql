-- Views and materialized views in scope: the query (pg_get_viewdef), options (security_invoker, PostgreSQL
-- 15+; security_barrier; check_option), output columns with their types, owner, privileges per grantee
-- (readers: who may SELECT, for the lints), the relations the query reads (dependency order), and the
-- tables with row level security among them.
SELECT n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS kind,
       coalesce((SELECT lower(o.option_value) IN ('true', 'on', '1', 'yes')
                 FROM pg_options_to_table(c.reloptions) AS o
                 WHERE o.option_name = 'security_invoker'), false) AS security_invoker,
       coalesce((SELECT lower(o.option_value) IN ('true', 'on', '1', 'yes')
                 FROM pg_options_to_table(c.reloptions) AS o
                 WHERE o.option_name = 'security_barrier'), false) AS security_barrier,
       (SELECT lower(o.option_value) FROM pg_options_to_table(c.reloptions) AS o
        WHERE o.option_name = 'check_option') AS check_option,
       pg_get_viewdef(c.oid) AS definition,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS column_names,
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS column_types,
       pg_get_userbyid(c.relowner)::text AS owner,
       ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END
             FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
             WHERE a.privilege_type = 'SELECT') AS readers,
       ARRAY(SELECT format('%%s=%%s', CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END,
                           string_agg(lower(a.privilege_type), ',' ORDER BY lower(a.privilege_type)))
             FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
             GROUP BY a.grantee) AS grants,
       ARRAY(SELECT DISTINCT format('%%I.%%I', rn.nspname, rc.relname)
             FROM pg_rewrite r
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                             AND d.refclassid = 'pg_class'::regclass
             JOIN pg_class rc ON rc.oid = d.refobjid
             JOIN pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE r.ev_class = c.oid AND rc.oid <> c.oid AND rc.relrowsecurity) AS rls_tables,
       ARRAY(SELECT DISTINCT ARRAY[rn.nspname::text, rc.relname::text]
             FROM pg_rewrite r
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                             AND d.refclassid = 'pg_class'::regclass
             JOIN pg_class rc ON rc.oid = d.refobjid
             JOIN pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE r.ev_class = c.oid AND rc.oid <> c.oid) AS reads
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
ORDER BY 1, 2
