-- Schema privileges (USAGE, CREATE) of the schemas in scope, and default privileges (pg_default_acl:
-- what objects a role creates later are granted), per grantee (public for grants to all). Default
-- privileges for all schemas (schema NULL) are read whatever the scope.
SELECT 'schema' AS kind,
       n.nspname::text AS schema,
       pg_get_userbyid(n.nspowner)::text AS role,
       NULL::text AS objects,
       CASE WHEN acl.grantee = 0 THEN 'public' ELSE pg_get_userbyid(acl.grantee)::text END AS grantee,
       array_agg(DISTINCT lower(acl.privilege_type) ORDER BY lower(acl.privilege_type)) AS privileges
FROM pg_namespace n
CROSS JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS acl
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = 'pg_namespace'::regclass AND e.objid = n.oid AND e.deptype = 'e')
GROUP BY n.nspname, n.nspowner, acl.grantee
UNION ALL
SELECT 'default',
       n.nspname::text,
       pg_get_userbyid(d.defaclrole)::text,
       d.defaclobjtype::text,
       CASE WHEN acl.grantee = 0 THEN 'public' ELSE pg_get_userbyid(acl.grantee)::text END,
       array_agg(DISTINCT lower(acl.privilege_type) ORDER BY lower(acl.privilege_type))
FROM pg_default_acl d
LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL aclexplode(d.defaclacl) AS acl
WHERE n.oid IS NULL OR %(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[])
GROUP BY n.nspname, d.defaclrole, d.defaclobjtype, acl.grantee
ORDER BY 1, 2 NULLS FIRST, 3, 4, 5
