-- Views in scope: whether they run with the caller's rights (security_invoker, PostgreSQL 15+), who may
-- read them, and the tables with row level security they read from.
SELECT n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS kind,
       coalesce((SELECT lower(o.option_value) IN ('true', 'on', '1', 'yes')
                 FROM pg_options_to_table(c.reloptions) AS o
                 WHERE o.option_name = 'security_invoker'), false) AS security_invoker,
       ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END
             FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
             WHERE a.privilege_type = 'SELECT') AS readers,
       ARRAY(SELECT DISTINCT format('%%I.%%I', rn.nspname, rc.relname)
             FROM pg_rewrite r
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                             AND d.refclassid = 'pg_class'::regclass
             JOIN pg_class rc ON rc.oid = d.refobjid
             JOIN pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE r.ev_class = c.oid AND rc.oid <> c.oid AND rc.relrowsecurity) AS rls_tables
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm')
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
ORDER BY 1, 2
