-- Installed extensions (plpgsql, always there, left out): a database-wide object, read whatever the
-- snapshot's schema scope (on Supabase they live in the platform's `extensions` schema).
SELECT e.extname::text AS name,
       n.nspname::text AS schema,
       e.extversion AS version
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname <> 'plpgsql'
ORDER BY 1
