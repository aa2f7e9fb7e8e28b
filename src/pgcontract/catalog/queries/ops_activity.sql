-- Operations budgets: every client session but this one, with how long it has been in its transaction,
-- query and state, and how long it has waited for a lock (pg_locks.waitstart) and for whom. Without
-- pg_read_all_stats, another role's session shows its role and database but no state, times or query.
WITH waiting AS (
  SELECT l.pid,
         extract(epoch FROM pg_catalog.clock_timestamp() - min(l.waitstart))::float8 AS wait_seconds,
         pg_catalog.string_agg(DISTINCT l.locktype, ', ') AS lock_types,
         pg_catalog.string_agg(DISTINCT CASE WHEN l.relation IS NOT NULL AND l.database = (
                SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
              THEN l.relation::regclass::text END, ', ') AS relations
  FROM pg_catalog.pg_locks AS l
  WHERE NOT l.granted
  GROUP BY l.pid
)
SELECT a.pid,
       a.datname::text AS database,
       a.usename::text AS role,
       a.application_name::text AS application,
       a.state,
       a.state IS NULL AS hidden,
       extract(epoch FROM pg_catalog.clock_timestamp() - a.xact_start)::float8 AS xact_seconds,
       extract(epoch FROM pg_catalog.clock_timestamp() - a.query_start)::float8 AS query_seconds,
       extract(epoch FROM pg_catalog.clock_timestamp() - a.state_change)::float8 AS state_seconds,
       left(a.query, 200) AS query,
       r.rolconnlimit AS role_connection_limit,
       w.wait_seconds,
       w.lock_types,
       w.relations,
       CASE WHEN w.pid IS NOT NULL THEN pg_catalog.pg_blocking_pids(a.pid) END AS blocked_by
FROM pg_catalog.pg_stat_activity AS a
LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = a.usesysid
LEFT JOIN waiting AS w ON w.pid = a.pid
-- Another role's session hides its backend_type too: counted as a client when it has a role.
WHERE coalesce(a.backend_type, 'client backend') = 'client backend' AND a.usesysid IS NOT NULL
  AND a.pid <> pg_catalog.pg_backend_pid()
ORDER BY a.pid
