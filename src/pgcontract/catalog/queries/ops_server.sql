-- Operations budgets: server-wide facts, WAL archiving, and what this role may see. One row.
-- Settings only pg_read_all_settings may read are asked for only when the role has it (an error would
-- end the read's transaction).
SELECT pg_catalog.current_setting('max_connections')::int AS max_connections,
       pg_catalog.current_setting('superuser_reserved_connections')::int AS reserved_connections,
       pg_catalog.current_setting('archive_mode') AS archive_mode,
       pg_catalog.current_setting('port')::int AS port,
       pg_catalog.pg_is_in_recovery() AS in_recovery,
       pg_catalog.pg_postmaster_start_time() AS started_at,
       pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') AS read_all_stats,
       pg_catalog.pg_has_role('pg_read_all_settings', 'USAGE') AS read_all_settings,
       CASE WHEN pg_catalog.pg_has_role('pg_read_all_settings', 'USAGE')
            THEN pg_catalog.current_setting('data_directory') END AS data_directory,
       pg_catalog.pg_database_size(pg_catalog.current_database()) AS database_size,
       (SELECT d.stats_reset FROM pg_catalog.pg_stat_database AS d
        WHERE d.datname = pg_catalog.current_database()) AS stats_reset,
       (SELECT n.nspname::text FROM pg_catalog.pg_extension AS e
        JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_stat_statements') AS statements_schema,
       CASE WHEN pg_catalog.pg_is_in_recovery()
            THEN extract(epoch FROM pg_catalog.clock_timestamp() - pg_catalog.pg_last_xact_replay_timestamp())::float8
       END AS standby_lag_seconds,
       a.archived_count,
       a.failed_count,
       a.last_failed_wal,
       a.last_archived_time,
       a.last_failed_time,
       extract(epoch FROM pg_catalog.clock_timestamp() - a.last_archived_time)::float8 AS archived_age_seconds,
       extract(epoch FROM pg_catalog.clock_timestamp() - a.stats_reset)::float8 AS archiver_reset_age_seconds
FROM pg_catalog.pg_stat_archiver AS a
