-- Aggregates in scope (not those of extensions; normal aggregates: ordered-set and hypothetical-set ones
-- are left out): argument list and input types, state function, state type, final function (and its
-- FINALFUNC_EXTRA, FINALFUNC_MODIFY), combine, serial and deserial functions, initial condition, parallel
-- safety, and what depends on the aggregate (views, SQL-standard function bodies: a DROP would fail).
-- Functions print schema-qualified unless in pg_catalog (the read runs with search_path = pg_catalog).
SELECT n.nspname AS schema,
       p.proname AS name,
       pg_get_function_arguments(p.oid) AS arguments,
       oidvectortypes(p.proargtypes) AS argument_types,
       a.aggtransfn::regproc::text AS sfunc,
       format_type(a.aggtranstype, NULL) AS stype,
       nullif(a.aggfinalfn::oid, 0)::regproc::text AS finalfunc,
       a.aggfinalextra AS finalfunc_extra,
       a.aggfinalmodify::text AS finalfunc_modify,
       nullif(a.aggcombinefn::oid, 0)::regproc::text AS combinefunc,
       nullif(a.aggserialfn::oid, 0)::regproc::text AS serialfunc,
       nullif(a.aggdeserialfn::oid, 0)::regproc::text AS deserialfunc,
       a.agginitval AS initcond,
       p.proparallel::text AS parallel,
       ARRAY(SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_depend d
             WHERE d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid AND d.deptype = 'n'
             ORDER BY 1) AS dependents
FROM pg_aggregate a
JOIN pg_proc p ON p.oid = a.aggfnoid
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE a.aggkind = 'n'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
  AND NOT EXISTS (SELECT 1 FROM pg_depend x
                  WHERE x.classid = 'pg_proc'::regclass AND x.objid = p.oid AND x.deptype = 'e')
ORDER BY 1, 2, 4
