-- Operations budgets: replication slots (active or not, the WAL each holds back) and the replicas this
-- server sends to, with their lag. Without pg_read_all_stats a replica's lag reads NULL.
WITH position AS (
  SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
              ELSE pg_catalog.pg_current_wal_lsn() END AS lsn
)
SELECT 'slot' AS kind,
       s.slot_name::text AS name,
       s.slot_type AS detail,
       s.active,
       pg_catalog.pg_wal_lsn_diff(p.lsn, s.restart_lsn)::float8 AS retained_bytes,
       NULL::float8 AS lag_seconds
FROM pg_catalog.pg_replication_slots AS s, position AS p
UNION ALL
SELECT 'replica',
       coalesce(nullif(r.application_name, ''), host(r.client_addr), 'pid ' || r.pid),
       r.state,
       true,
       NULL,
       extract(epoch FROM greatest(r.write_lag, r.flush_lag, r.replay_lag))::float8
FROM pg_catalog.pg_stat_replication AS r
ORDER BY 1, 2
