-- Publications (logical replication; Supabase Realtime streams supabase_realtime): FOR ALL TABLES, the
-- operations published, and the tables in each (those of FOR TABLES IN SCHEMA included), with a column
-- list and a row filter where one was given (PostgreSQL 15+; read through to_jsonb so that older servers,
-- which lack the columns, read them as NULL).
SELECT p.pubname::text AS name,
       p.puballtables AS all_tables,
       p.pubinsert AS insert,
       p.pubupdate AS update,
       p.pubdelete AS delete,
       p.pubtruncate AS truncate,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                          'schema', pt.schemaname::text,
                          'table', pt.tablename::text,
                          'columns', CASE WHEN to_jsonb(pr) ->> 'prattrs' IS NOT NULL
                                          THEN to_jsonb(pt) -> 'attnames' END,
                          'where', to_jsonb(pt) ->> 'rowfilter')
                        ORDER BY pt.schemaname, pt.tablename)
                 FROM pg_publication_tables pt
                 JOIN pg_namespace tn ON tn.nspname = pt.schemaname
                 JOIN pg_class tc ON tc.relnamespace = tn.oid AND tc.relname = pt.tablename
                 LEFT JOIN pg_publication_rel pr ON pr.prpubid = p.oid AND pr.prrelid = tc.oid
                 WHERE pt.pubname = p.pubname AND NOT p.puballtables), '[]'::jsonb) AS tables
FROM pg_publication p
ORDER BY 1
