-- Enum types in scope with their labels in sort order.
SELECT n.nspname AS schema,
       t.typname AS name,
       array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_enum e ON e.enumtypid = t.oid
WHERE (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
GROUP BY n.nspname, t.typname
ORDER BY 1, 2
