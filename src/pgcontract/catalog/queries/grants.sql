-- Privileges on the tables in scope, per grantee (public for grants to all), owner's included: table
-- privileges (column NULL), then column privileges (GRANT SELECT (col) ...), one row per column.
SELECT n.nspname AS schema,
       c.relname AS table,
       NULL::text AS column,
       CASE WHEN acl.grantee = 0 THEN 'public' ELSE pg_get_userbyid(acl.grantee)::text END AS grantee,
       array_agg(DISTINCT lower(acl.privilege_type) ORDER BY lower(acl.privilege_type)) AS privileges
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS acl
WHERE c.relkind IN ('r', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
GROUP BY n.nspname, c.relname, acl.grantee
UNION ALL
SELECT n.nspname, c.relname, a.attname::text,
       CASE WHEN acl.grantee = 0 THEN 'public' ELSE pg_get_userbyid(acl.grantee)::text END,
       array_agg(DISTINCT lower(acl.privilege_type) ORDER BY lower(acl.privilege_type))
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
CROSS JOIN LATERAL aclexplode(a.attacl) AS acl
WHERE c.relkind IN ('r', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
GROUP BY n.nspname, c.relname, a.attname, acl.grantee
ORDER BY 1, 2, 3 NULLS FIRST, 4
