-- esi_fdw 0.7.0 -> 0.8.0: the steps that need this version's functions,
-- run after the sources (src/sql/*.sql) re-created them.

-- == logical replication ==
-- every latest-mode snapshot table gets its key (esi.track() gives a new
-- one its key at once): the target's key when the rows allow it, else a
-- snapshot_row identity; a table with a replica identity already is kept
SELECT esi._snapshot_replica_identity(t.snapshot_table, t.key)
  FROM (SELECT DISTINCT ON (x.snapshot_table) x.snapshot_table, x.key
          FROM esi.targets x JOIN pg_catalog.pg_class c ON c.oid = x.snapshot_table
         WHERE x.mode = 'latest'
         ORDER BY x.snapshot_table, x.target) t;
