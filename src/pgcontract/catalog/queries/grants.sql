-- Table privileges of the tables in scope, per grantee (public for grants to all), owner's included.
SELECT n.nspname AS schema,
       c.relname AS table,
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
ORDER BY 1, 2, 3
