-- Functions and procedures in scope (not those of extensions): identity (input argument types), the full
-- argument list (modes, names, defaults), result, language, volatility, strictness, leakproof, parallel
-- safety, SECURITY DEFINER, settings (a fixed search_path...), source, owner, and who may run them.
SELECT n.nspname AS schema,
       p.proname AS name,
       p.prokind::text AS kind,
       pg_get_function_arguments(p.oid) AS arguments,
       oidvectortypes(p.proargtypes) AS argument_types,
       pg_get_function_result(p.oid) AS returns,
       l.lanname AS language,
       p.provolatile::text AS volatility,
       p.proisstrict AS strict,
       p.proleakproof AS leakproof,
       p.proparallel::text AS parallel,
       p.prosecdef AS security_definer,
       coalesce(p.proconfig, '{}'::text[]) AS settings,
       p.prosrc AS body,
       -- A SQL-standard body (BEGIN ATOMIC / RETURN, PostgreSQL 14+; through to_jsonb so that 13 runs it too):
       CASE WHEN to_jsonb(p) ->> 'prosqlbody' IS NOT NULL THEN pg_get_functiondef(p.oid) END AS definition,
       pg_get_userbyid(p.proowner)::text AS owner,
       ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END
             FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
             WHERE a.privilege_type = 'EXECUTE') AS executors
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE p.prokind IN ('f', 'p')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1, 2, 5
