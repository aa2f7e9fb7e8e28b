-- Enum types in scope with their labels in sort order (an enum may have none: CREATE TYPE e AS ENUM ()).
SELECT n.nspname AS schema,
       t.typname AS name,
       coalesce(array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FILTER (WHERE e.enumlabel IS NOT NULL),
                '{}') AS labels
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_enum e ON e.enumtypid = t.oid
WHERE t.typtype = 'e'
  AND NOT EXISTS (SELECT 1 FROM pg_depend x
                 WHERE x.classid = 'pg_type'::regclass AND x.objid = t.oid AND x.deptype = 'e')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
GROUP BY n.nspname, t.typname
ORDER BY 1, 2
