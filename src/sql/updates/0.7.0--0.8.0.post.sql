-- esi_fdw 0.7.0 -> 0.8.0: the steps that need this version's functions,
-- run after the sources (src/sql/*.sql) re-created them.

-- == logical replication ==
-- every latest-mode snapshot table published already gets its key (the
-- refresh gives one published later its key, esi.publish() at once): the
-- target's key when the rows allow it, else a snapshot_row identity; a
-- table with a replica identity already is kept
SELECT esi._snapshot_replica_identity(t.snapshot_table, t.key)
  FROM (SELECT DISTINCT ON (x.snapshot_table) x.snapshot_table, x.key
          FROM esi.targets x JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) x.snapshot_table
         WHERE x.mode OPERATOR(pg_catalog.=) 'latest'
           AND EXISTS (SELECT FROM pg_catalog.pg_publication_tables pt
                        JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) pt.schemaname
                       WHERE n.oid OPERATOR(pg_catalog.=) c.relnamespace
                         AND pt.tablename OPERATOR(pg_catalog.=) c.relname)
         ORDER BY x.snapshot_table, x.target) t;
