-- Sequences in scope (not those of extensions) with their options and the column that owns them:
-- OWNED BY ('a') or an identity column's own sequence ('i'); the owner and the privileges per grantee
-- ("grantee=select,usage", public for PUBLIC, the owner's included). The current value is data: not read.
SELECT n.nspname AS schema,
       c.relname AS name,
       format_type(s.seqtypid, NULL) AS type,
       s.seqstart AS start,
       s.seqincrement AS increment,
       s.seqmin AS min,
       s.seqmax AS max,
       s.seqcache AS cache,
       s.seqcycle AS cycle,
       o.deptype = 'i' AS identity,
       tn.nspname AS owner_schema,
       tc.relname AS owner_table,
       ta.attname AS owner_column,
       pg_get_userbyid(c.relowner)::text AS owner,
       ARRAY(SELECT (CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END) || '='
                    || string_agg(lower(a.privilege_type), ',' ORDER BY lower(a.privilege_type))
             FROM aclexplode(coalesce(c.relacl, acldefault('s', c.relowner))) AS a
             GROUP BY a.grantee ORDER BY 1) AS grants
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend o ON o.classid = 'pg_class'::regclass AND o.objid = c.oid
                     AND o.refclassid = 'pg_class'::regclass AND o.refobjsubid > 0 AND o.deptype IN ('a', 'i')
LEFT JOIN pg_class tc ON tc.oid = o.refobjid
LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace
LEFT JOIN pg_attribute ta ON ta.attrelid = o.refobjid AND ta.attnum = o.refobjsubid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND NOT EXISTS (SELECT 1 FROM pg_depend x
                  WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid AND x.deptype = 'e')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
ORDER BY 1, 2
