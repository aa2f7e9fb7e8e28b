-- Aggregates in scope (not those of extensions), normal, ordered-set and hypothetical-set: argument list
-- (ORDER BY between direct and aggregated arguments) and input types, kind, state function, type and size,
-- final function (and its FINALFUNC_EXTRA, FINALFUNC_MODIFY), combine, serial and deserial functions,
-- initial condition, the moving-aggregate options, sort operator, parallel safety, and what depends on the
-- aggregate (views, SQL-standard function bodies: a DROP would fail).
-- Functions and operators print schema-qualified unless in pg_catalog (the read runs with search_path =
-- pg_catalog).
SELECT n.nspname AS schema,
       p.proname AS name,
       pg_get_function_arguments(p.oid) AS arguments,
       oidvectortypes(p.proargtypes) AS argument_types,
       a.aggkind::text AS kind,
       a.aggtransfn::regproc::text AS sfunc,
       format_type(a.aggtranstype, NULL) AS stype,
       a.aggtransspace AS sspace,
       nullif(a.aggfinalfn::oid, 0)::regproc::text AS finalfunc,
       a.aggfinalextra AS finalfunc_extra,
       a.aggfinalmodify::text AS finalfunc_modify,
       nullif(a.aggcombinefn::oid, 0)::regproc::text AS combinefunc,
       nullif(a.aggserialfn::oid, 0)::regproc::text AS serialfunc,
       nullif(a.aggdeserialfn::oid, 0)::regproc::text AS deserialfunc,
       a.agginitval AS initcond,
       nullif(a.aggmtransfn::oid, 0)::regproc::text AS msfunc,
       nullif(a.aggminvtransfn::oid, 0)::regproc::text AS minvfunc,
       CASE WHEN a.aggmtranstype <> 0 THEN format_type(a.aggmtranstype, NULL) END AS mstype,
       a.aggmtransspace AS msspace,
       nullif(a.aggmfinalfn::oid, 0)::regproc::text AS mfinalfunc,
       a.aggmfinalextra AS mfinalfunc_extra,
       a.aggmfinalmodify::text AS mfinalfunc_modify,
       a.aggminitval AS minitcond,
       (SELECT CASE WHEN o.oprnamespace = 'pg_catalog'::regnamespace THEN o.oprname
                    ELSE o.oprnamespace::regnamespace::text || '.' || o.oprname END
        FROM pg_operator o WHERE o.oid = a.aggsortop) AS sortop,
       p.proparallel::text AS parallel,
       ARRAY(SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_depend d
             WHERE d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid AND d.deptype = 'n'
             ORDER BY 1) AS dependents
FROM pg_aggregate a
JOIN pg_proc p ON p.oid = a.aggfnoid
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
  AND NOT EXISTS (SELECT 1 FROM pg_depend x
                  WHERE x.classid = 'pg_proc'::regclass AND x.objid = p.oid AND x.deptype = 'e')
ORDER BY 1, 2, 4
