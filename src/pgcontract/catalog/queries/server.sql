-- The server and session facts every report needs.
SELECT current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version,
       current_database() AS database,
       current_user AS current_user,
       current_setting('transaction_read_only') = 'on' AS read_only
