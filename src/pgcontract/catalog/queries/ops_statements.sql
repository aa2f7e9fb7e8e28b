-- Operations budgets: pg_stat_statements of this database, per statement (queryid, all roles together):
-- the 100 slowest by mean time and the 100 by total time. {schema} is the extension's schema (an
-- identifier composed by psycopg.sql).
WITH per_statement AS (
  SELECT s.queryid,
         min(left(s.query, 300)) AS query,
         sum(s.calls)::float8 AS calls,
         (sum(s.total_exec_time) / 1000)::float8 AS total_seconds,
         (sum(s.total_exec_time) / nullif(sum(s.calls), 0) / 1000)::float8 AS mean_seconds
  FROM {schema}.pg_stat_statements AS s
  WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
    AND s.queryid IS NOT NULL
  GROUP BY s.queryid
), ranked AS (
  SELECT p.*,
         row_number() OVER (ORDER BY p.mean_seconds DESC NULLS LAST) AS by_mean,
         row_number() OVER (ORDER BY p.total_seconds DESC) AS by_total
  FROM per_statement AS p
)
SELECT queryid::text AS queryid, query, calls, total_seconds, mean_seconds
FROM ranked
WHERE by_mean <= 100 OR by_total <= 100
ORDER BY total_seconds DESC
