-- esi_fdw 0.5.0 -> 0.6.0: talking to the real ESI (issue 15).
\echo Use "ALTER EXTENSION esi_fdw UPDATE TO '0.6.0'" to load this file. \quit

-- == transport ==

-- == cache ==

-- == esi behaviour ==

-- A refresh's next one is due no sooner than esi_fdw.refresh_min_interval
-- after its start: ESI has served replies that arrive already expired,
-- which made the target due again at once, again and again.
CREATE OR REPLACE FUNCTION _refresh_write(log_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l esi.refresh_log;
  t esi.targets;
  cols text;
  cond text;
  nrows bigint;
  nadded bigint;
  exp_at timestamptz;
BEGIN
  SELECT * INTO l FROM esi.refresh_log x WHERE x.id = log_id;
  SELECT * INTO t FROM esi.targets x WHERE x.target = l.target;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no target "%"', l.target USING ERRCODE = '42704';
  END IF;
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
    FROM pg_attribute a
   WHERE a.attrelid = t.foreign_table AND a.attnum > 0 AND NOT a.attisdropped;
  cond := esi._target_where(t.foreign_table, t.params);
  IF t.mode = 'latest' THEN
    -- row locks only: a SELECT sees the old rows until the commit
    EXECUTE format('DELETE FROM %s WHERE %s', t.snapshot_table, cond);
  END IF;
  SELECT i.rows, i.added INTO nrows, nadded
    FROM esi._snapshot_insert(t.snapshot_table,
           format('SELECT %s, %L::timestamptz FROM %s WHERE %s', cols, l.started, t.foreign_table, cond),
           t.mode = 'incremental') i;
  IF t.owner_column IS NOT NULL THEN
    PERFORM esi._asset_diffs(t.target, t.snapshot_table, t.owner_column, l.started, cond);
  END IF;
  exp_at := esi._watch_expires();
  UPDATE esi.refresh_log x SET finished = clock_timestamp(), rows = nrows, rows_added = nadded,
         outcome = 'ok', requests = esi._watch_requests(), expires = exp_at
   WHERE x.id = log_id;
  -- next: when the data read expires (5 minutes when no reply said), but
  -- not before esi_fdw.refresh_min_interval from this refresh's start (a
  -- reply may arrive already expired) nor within a second from now, plus
  -- the jitter
  UPDATE esi.targets x SET last_snapshot_at = l.started, last_rows = nrows, last_error = NULL,
         failures = 0, paused_at = NULL,
         next_refresh_at = greatest(coalesce(exp_at, now() + interval '5 minutes'),
                                    l.started + current_setting('esi_fdw.refresh_min_interval')::interval,
                                    clock_timestamp() + interval '1 second') + esi._jitter()
   WHERE x.target = t.target;
  PERFORM pg_notify('esi_refresh', json_build_object('target', t.target,
    'snapshot_at', l.started, 'rows', nrows)::text);
END;
$$;

-- == sso ==

-- == security: argument checks ==

-- == security: privileged SQL ==

-- A refresh's lock (one refresh of a target at a time) was a session
-- advisory lock on (hashtext('esi.refresh'), hashtext(target)): any role
-- could take it with pg_advisory_lock() and keep every refresh of any
-- target from running.  It is now an advisory lock in a key space no SQL
-- function reaches (pg_locks: locktype advisory, objsubid 3), which only a
-- role that may write the target's snapshot table, or a member of the
-- extension's owner (the background workers), may take.
CREATE FUNCTION _refresh_lock(target text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'esi_refresh_lock_sql' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION _refresh_lock(text) IS 'takes a target''s refresh lock for the session if it is free (roles that may write its snapshot table)';
CREATE FUNCTION _refresh_unlock(target text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'esi_refresh_unlock_sql' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION _refresh_unlock(text) IS 'releases the session''s refresh lock of a target';

CREATE OR REPLACE FUNCTION _close_stale_runs() RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tg text;
  n bigint := 0;
  k bigint;
BEGIN
  FOR tg IN SELECT DISTINCT l.target FROM esi.refresh_log l WHERE l.outcome = 'running' LOOP
    IF esi._refresh_lock(tg) THEN
      UPDATE esi.refresh_log l SET outcome = 'error', finished = coalesce(l.finished, clock_timestamp()),
             error = 'interrupted: the session that ran the refresh ended before it finished'
       WHERE l.target = tg AND l.outcome = 'running';
      GET DIAGNOSTICS k = ROW_COUNT;
      n := n + k;
      PERFORM esi._refresh_unlock(tg);
    END IF;
  END LOOP;
  RETURN n;
END;
$$;

CREATE OR REPLACE FUNCTION _refresh_begin(target text, only_due boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t esi.targets;
  snap_at timestamptz := clock_timestamp();
  log_id bigint;
BEGIN
  SELECT * INTO t FROM esi.targets x WHERE x.target = _refresh_begin.target;
  IF NOT FOUND AND only_due THEN
    RETURN NULL;              -- untracked meanwhile
  ELSIF NOT FOUND THEN
    RAISE EXCEPTION 'no target "%"', target USING ERRCODE = '42704',
      HINT = 'esi.track() declares one.';
  END IF;
  -- one refresh of a target at a time (a session lock: it outlives commits)
  IF NOT esi._refresh_lock(target) THEN
    RETURN NULL;
  END IF;
  BEGIN
    IF only_due AND NOT EXISTS (SELECT FROM esi._due_targets() d WHERE d.target = _refresh_begin.target) THEN
      PERFORM esi._refresh_unlock(target);
      RETURN NULL;
    END IF;
    -- the lock is ours: a 'running' refresh of the target is a dead one
    UPDATE esi.refresh_log l SET outcome = 'error', finished = clock_timestamp(),
           error = 'interrupted: the session that ran the refresh ended before it finished'
     WHERE l.target = _refresh_begin.target AND l.outcome = 'running';
    IF t.mode = 'history' THEN
      PERFORM esi._history_partitions(t.snapshot_table, snap_at, NULL);
    END IF;
    PERFORM esi._watch_reset();
    INSERT INTO esi.refresh_log (target, started, outcome) VALUES (target, snap_at, 'running')
      RETURNING id INTO log_id;
  EXCEPTION WHEN OTHERS THEN
    PERFORM esi._refresh_unlock(target);
    RAISE;
  END;
  RETURN log_id;
END;
$$;

CREATE OR REPLACE FUNCTION _refresh_end(log_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l esi.refresh_log;
  t esi.targets;
BEGIN
  SELECT * INTO l FROM esi.refresh_log x WHERE x.id = log_id;
  SELECT * INTO t FROM esi.targets x WHERE x.target = l.target;
  IF FOUND THEN
    IF t.mode = 'history' AND l.outcome = 'ok' THEN
      PERFORM esi._history_partitions(t.snapshot_table, l.started, t.history_retention);
    END IF;
    -- bounded log: the last log_retention refreshes of the target
    DELETE FROM esi.refresh_log x
     WHERE x.target = t.target
       AND x.id <= (SELECT x2.id FROM esi.refresh_log x2 WHERE x2.target = t.target
                     ORDER BY x2.id DESC OFFSET t.log_retention LIMIT 1);
  END IF;
  PERFORM esi._refresh_unlock(l.target);
END;
$$;

-- == security: per-database keys ==

-- Sealed values (refresh tokens, client secrets, login verifiers) are bound
-- to their database now, not only to their row: one sealed in another
-- database of the cluster does not unseal here.  Those sealed before are
-- sealed again, bound to this database, while updating (no key is added;
-- values whose key is missing are left, with a WARNING, for esi.rekey(),
-- which binds them too).  The access tokens in shared memory and the
-- response cache's entries of a character are kept per database and
-- server OID (in C, nothing to change here).
CREATE FUNCTION _bind_sealed() RETURNS bigint
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'esi_bind_sealed';
REVOKE ALL ON FUNCTION _bind_sealed() FROM PUBLIC;
SELECT _bind_sealed();
DROP FUNCTION _bind_sealed();

-- == security: writes sent once ==

-- == security: refresh roles and grants ==

-- Roles are kept as regrole, not oid: pg_dump writes a regrole by name and a
-- restore into another cluster with the same roles reads it back as that
-- role's OID there (an oid column carried the old number, so a login was
-- lost, or given to whichever role got that number).  The policies and the
-- view that read these columns are set aside while the type changes.
ALTER POLICY own_or_granted ON sso_characters USING (false);
ALTER POLICY own ON sso_character_grants USING (false);
ALTER POLICY own ON sso_logins USING (false);
CREATE OR REPLACE VIEW characters WITH (security_barrier) AS
  SELECT c.server_name, c.character_id, c.name, c.scopes,
         NULL::regrole AS owner, c.needs_login, c.reason,
         c.logged_in_at, c.refreshed_at
    FROM sso_characters c WHERE false;
ALTER TABLE sso_characters ALTER COLUMN owner_role TYPE regrole;
ALTER TABLE sso_character_grants ALTER COLUMN grantee TYPE regrole;
ALTER TABLE sso_logins ALTER COLUMN role TYPE regrole;
ALTER POLICY own_or_granted ON sso_characters
  USING (pg_catalog.pg_has_role(owner_role, 'MEMBER')
         OR EXISTS (SELECT FROM esi.sso_character_grants g
                     WHERE g.server_name OPERATOR(pg_catalog.=) sso_characters.server_name
                       AND g.character_id OPERATOR(pg_catalog.=) sso_characters.character_id
                       AND pg_catalog.pg_has_role(g.grantee, 'MEMBER')));
ALTER POLICY own ON sso_character_grants USING (pg_catalog.pg_has_role(grantee, 'MEMBER'));
ALTER POLICY own ON sso_logins USING (pg_catalog.pg_has_role(role, 'MEMBER'));
CREATE OR REPLACE VIEW characters WITH (security_barrier) AS
  SELECT c.server_name, c.character_id, c.name, c.scopes,
         c.owner_role AS owner, c.needs_login, c.reason,
         c.logged_in_at, c.refreshed_at
    FROM esi.sso_characters c
   WHERE pg_catalog.pg_has_role(c.owner_role, 'MEMBER')
      OR EXISTS (SELECT FROM esi.sso_character_grants g
                  WHERE g.server_name OPERATOR(pg_catalog.=) c.server_name
                    AND g.character_id OPERATOR(pg_catalog.=) c.character_id
                    AND pg_catalog.pg_has_role(g.grantee, 'MEMBER'))
      OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user);

-- Only a member of a role may make refreshes run as that role: a role that
-- may write esi.targets set refresh_role to a superuser, and the background
-- workers then ran its snapshot table's trigger as that superuser.
CREATE FUNCTION _targets_check_role() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT pg_has_role(current_user, NEW.refresh_role::oid, 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied to make target "%" refresh as role "%"', NEW.target, NEW.refresh_role
      USING ERRCODE = '42501',
            DETAIL = format('Role "%s" is not a member of role "%s".', current_user, NEW.refresh_role),
            HINT = 'Set refresh_role to your own role or to a role you are a member of.';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER refresh_role_member BEFORE INSERT OR UPDATE OF refresh_role ON targets
  FOR EACH ROW EXECUTE FUNCTION _targets_check_role();
COMMENT ON COLUMN targets.refresh_role IS 'the role background workers read ESI as (its characters and tokens): the role that called esi.track(); only its members may set it';

-- Step 2 of a refresh never runs the snapshot table owner's code (its
-- triggers, defaults, policies) with rights that owner lacks: as the
-- caller (or refresh_role) when the owner has all its rights, as the owner
-- when the caller has all the owner's (a superuser's CALL esi.refresh of
-- another role's target), refused otherwise (refresh_worker.c).
CREATE FUNCTION _refresh_step(log_id bigint) RETURNS void
  AS 'MODULE_PATHNAME', 'esi_refresh_step_sql' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION _refresh_step(bigint) IS 'step 2 of a refresh (esi._refresh_write) as the caller or the snapshot table''s owner, whichever has fewer rights';

CREATE OR REPLACE PROCEDURE refresh(target text)
LANGUAGE plpgsql
AS $$
DECLARE
  log_id bigint;
  member text;
  err text;
  err_state text;
  err_detail text;
BEGIN
  IF target IS NULL THEN
    RAISE EXCEPTION 'no target given' USING ERRCODE = '22004';
  END IF;
  -- fails at once inside a transaction block, before anything is taken
  COMMIT;
  IF NOT EXISTS (SELECT FROM esi.targets x WHERE x.target OPERATOR(pg_catalog.=) refresh.target)
     AND EXISTS (SELECT FROM esi.targets x WHERE x.group_name OPERATOR(pg_catalog.=) refresh.target) THEN
    FOR member IN SELECT x.target FROM esi.targets x WHERE x.group_name OPERATOR(pg_catalog.=) refresh.target ORDER BY 1 LOOP
      CALL esi.refresh(member);
    END LOOP;
    RETURN;
  END IF;
  log_id := esi._refresh_begin(target);
  IF log_id IS NULL THEN
    RAISE EXCEPTION 'target "%" is being refreshed by another session', target
      USING ERRCODE = '55P03';
  END IF;
  COMMIT;
  BEGIN
    PERFORM esi._refresh_step(log_id);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    -- also a statement_timeout or a cancel: logged, then raised below
    GET STACKED DIAGNOSTICS err = MESSAGE_TEXT, err_state = RETURNED_SQLSTATE, err_detail = PG_EXCEPTION_DETAIL;
  END;
  IF err IS NOT NULL THEN
    PERFORM esi._refresh_failed(log_id, err, err_state);
  END IF;
  COMMIT;
  PERFORM esi._refresh_end(log_id);
  COMMIT;
  IF err IS NOT NULL THEN
    RAISE EXCEPTION 'refresh of target "%" failed: %', target, err
      USING ERRCODE = err_state, DETAIL = coalesce(err_detail, ''),
            HINT = 'The previous snapshot is unchanged; the error is in esi.refresh_log.';
  END IF;
END;
$$;

-- Grants survived a change of owner: when another role logged a character
-- in, the previous owner's grants stayed (and its grantees read the new
-- owner's data).  A change of owner drops them.
CREATE FUNCTION _character_owner_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM esi.sso_character_grants g
   WHERE g.server_name OPERATOR(pg_catalog.=) NEW.server_name
     AND g.character_id OPERATOR(pg_catalog.=) NEW.character_id;
  RETURN NULL;
END;
$$;
CREATE TRIGGER owner_changed AFTER UPDATE OF owner_role ON sso_characters
  FOR EACH ROW WHEN (OLD.owner_role IS DISTINCT FROM NEW.owner_role)
  EXECUTE FUNCTION _character_owner_changed();

-- An owner lists the grants of its characters (the table's row-level
-- security shows a grantee its own grants only): the grants of characters
-- the reading role owns or was granted, read with the view owner's rights.
CREATE VIEW character_grants WITH (security_barrier = true) AS
  SELECT g.server_name, g.character_id, c.name AS character_name,
         c.owner_role::regrole AS owner, g.grantee::regrole AS grantee
    FROM esi.sso_character_grants g
    JOIN esi.sso_characters c ON c.server_name = g.server_name AND c.character_id = g.character_id
   WHERE pg_catalog.pg_has_role(c.owner_role, 'MEMBER') OR pg_catalog.pg_has_role(g.grantee, 'MEMBER');
COMMENT ON VIEW character_grants IS 'The grants (esi.grant_character) of the characters the role owns, and those made to it';
GRANT SELECT ON character_grants TO PUBLIC;

-- == security: small claims ==

-- esi.track(): snapshot_table is parsed (parse_ident: schema.table, each
-- part as SQL reads it) and quoted part by part, never spliced into CREATE
-- TABLE as given; a target name too long for a NOTIFY payload is refused.
CREATE OR REPLACE FUNCTION track(target text, foreign_table regclass, params jsonb DEFAULT '{}',
                      mode text DEFAULT 'latest', key text[] DEFAULT NULL,
                      snapshot_table text DEFAULT NULL, each text DEFAULT NULL,
                      auto boolean DEFAULT true)
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tbl text;
  parts text[];
  rel regclass;
  cols text[];
  owner_col text;
  k text;
  v jsonb;
  members jsonb;
BEGIN
  IF target IS NULL OR target = '' THEN
    RAISE EXCEPTION 'a target needs a name' USING ERRCODE = '22023';
  END IF;
  -- its name goes out in NOTIFY payloads (esi_refresh, esi_asset_diffs),
  -- which hold at most 7999 bytes: the name, as JSON, gets 7680 of them
  IF octet_length(to_json(target)::text) > 7680 THEN
    RAISE EXCEPTION 'target name too long' USING ERRCODE = '22023',
      DETAIL = format('The name is %s bytes as JSON; NOTIFY payloads name the target, and a target''s name may be 7680 bytes as JSON.',
                      octet_length(to_json(target)::text)),
      HINT = 'Choose a shorter name.';
  END IF;
  IF mode IS NULL OR mode NOT IN ('latest', 'history', 'incremental') THEN
    RAISE EXCEPTION 'invalid mode "%"', mode USING ERRCODE = '22023',
      HINT = 'The modes are latest, history and incremental.';
  END IF;
  IF (SELECT c.relkind FROM pg_class c WHERE c.oid = foreign_table) <> 'f' THEN
    RAISE EXCEPTION '% is not a foreign table', foreign_table USING ERRCODE = '42809';
  END IF;
  IF EXISTS (SELECT FROM esi.targets t WHERE t.target = track.target OR t.group_name = track.target) THEN
    RAISE EXCEPTION 'target "%" already exists', target USING ERRCODE = '42710',
      HINT = 'esi.untrack() removes it.';
  END IF;
  params := coalesce(params, '{}');
  PERFORM esi._target_where(foreign_table, params);
  IF each IS NOT NULL THEN
    members := params -> each;
    IF jsonb_typeof(members) IS DISTINCT FROM 'array' OR jsonb_array_length(members) = 0 THEN
      RAISE EXCEPTION 'params must give "%" a non-empty list of values', each USING ERRCODE = '22023',
        HINT = format('For example: {"%s": [10000002, 10000043]}', each);
    END IF;
    IF EXISTS (SELECT FROM jsonb_array_elements(members) e
                WHERE octet_length(to_json(track.target || ':' || (e #>> '{}'))::text) > 7680) THEN
      RAISE EXCEPTION 'target name too long' USING ERRCODE = '22023',
        DETAIL = 'A member''s target is named target:value; NOTIFY payloads name the target, and a target''s name may be 7680 bytes as JSON.',
        HINT = 'Choose a shorter name.';
    END IF;
    IF EXISTS (SELECT FROM esi.targets t, jsonb_array_elements(members) e
                WHERE t.target = track.target || ':' || (e #>> '{}')) THEN
      RAISE EXCEPTION 'a target named "%:..." already exists', target USING ERRCODE = '42710';
    END IF;
  END IF;
  SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO cols
    FROM pg_attribute a WHERE a.attrelid = foreign_table AND a.attnum > 0 AND NOT a.attisdropped;
  IF 'snapshot_at' = ANY (cols) THEN
    RAISE EXCEPTION '% has a column named snapshot_at', foreign_table USING ERRCODE = '42701';
  END IF;
  IF mode = 'incremental' THEN
    IF cardinality(key) IS NULL OR cardinality(key) = 0 THEN
      RAISE EXCEPTION 'incremental mode needs key columns' USING ERRCODE = '22023';
    END IF;
  END IF;
  FOREACH k IN ARRAY coalesce(key, '{}') LOOP
    IF NOT k = ANY (cols) THEN
      RAISE EXCEPTION 'key column "%" does not exist in %', k, foreign_table USING ERRCODE = '42703';
    END IF;
  END LOOP;
  IF snapshot_table IS NULL THEN
    tbl := format('esi_snapshots.%I', target);
  ELSE
    -- a name, parsed as SQL would and quoted part by part: nothing else
    -- reaches CREATE TABLE
    BEGIN
      parts := parse_ident(snapshot_table);
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE EXCEPTION 'invalid snapshot table name "%"', snapshot_table USING ERRCODE = '42602',
        DETAIL = 'snapshot_table must be a table name with its schema, e.g. my_schema.my_table or "My Schema"."My Table".',
        HINT = 'Double-quote a part that is not a plain lower-case identifier.';
    END;
    IF cardinality(parts) <> 2 THEN
      RAISE EXCEPTION 'invalid snapshot table name "%"', snapshot_table USING ERRCODE = '42602',
        DETAIL = 'snapshot_table must be a table name with its schema, e.g. my_schema.my_table or "My Schema"."My Table".',
        HINT = 'Give the schema and the table, separated by a dot.';
    END IF;
    tbl := format('%I.%I', parts[1], parts[2]);
  END IF;
  IF mode = 'history' THEN
    EXECUTE format('CREATE TABLE %s (LIKE %s, snapshot_at timestamptz NOT NULL) PARTITION BY RANGE (snapshot_at)',
                   tbl, foreign_table);
  ELSE
    EXECUTE format('CREATE TABLE %s (LIKE %s, snapshot_at timestamptz NOT NULL)', tbl, foreign_table);
  END IF;
  rel := tbl::regclass;
  EXECUTE format('COMMENT ON TABLE %s IS %L', rel,
                 format('esi_fdw snapshot of %s (target %s, mode %s)', foreign_table, target, mode));
  IF mode = 'incremental' THEN
    EXECUTE format('CREATE UNIQUE INDEX ON %s (%s)', rel,
                   (SELECT string_agg(quote_ident(x), ', ') FROM unnest(key) x));
  ELSE
    EXECUTE format('CREATE INDEX ON %s (snapshot_at)', rel);
  END IF;
  IF each IS NOT NULL AND mode = 'latest' THEN
    -- a member replaces its own rows: DELETE ... WHERE each = value
    EXECUTE format('CREATE INDEX ON %s (%I)', rel, each);
  END IF;
  IF mode = 'history' AND cols @> ARRAY['item_id', 'type_id', 'quantity', 'location_id', 'location_flag'] THEN
    owner_col := CASE WHEN 'character_id' = ANY (cols) THEN 'character_id'
                      WHEN 'corporation_id' = ANY (cols) THEN 'corporation_id' END;
  END IF;
  IF each IS NULL THEN
    INSERT INTO esi.targets (target, foreign_table, params, mode, key, snapshot_table, owner_column, auto)
    VALUES (target, foreign_table, params, mode, key, rel, owner_col, track.auto);
  ELSE
    FOR v IN SELECT e FROM jsonb_array_elements(members) WITH ORDINALITY AS x(e, o) ORDER BY o LOOP
      INSERT INTO esi.targets (target, foreign_table, params, mode, key, snapshot_table, owner_column,
                               auto, group_name)
      VALUES (target || ':' || (v #>> '{}'), foreign_table, params || jsonb_build_object(each, v),
              mode, key, rel, owner_col, track.auto, target);
    END LOOP;
  END IF;
  IF track.auto THEN
    PERFORM esi._refresh_wake();
  END IF;
  RETURN rel;
END;
$$;


-- A refresh writes a snapshot table that has rules on INSERT with INSERT
-- ... SELECT (the rewriter applies them); esi._bulk_insert() refuses it.
CREATE OR REPLACE FUNCTION _snapshot_insert(dest regclass, query text, skip_duplicates boolean,
                                 OUT rows bigint, OUT added bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF skip_duplicates THEN
    EXECUTE format('WITH src AS MATERIALIZED (%s), ins AS (INSERT INTO %s SELECT * FROM src ON CONFLICT DO NOTHING RETURNING 1) '
                   'SELECT (SELECT count(*) FROM src), (SELECT count(*) FROM ins)', query, dest)
      INTO rows, added;
  ELSIF EXISTS (SELECT FROM pg_class c WHERE c.oid = dest AND c.relkind = 'r' AND NOT c.relrowsecurity)
        AND NOT EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = dest)
        AND NOT EXISTS (SELECT FROM pg_rewrite r WHERE r.ev_class = dest AND r.ev_type = '3') THEN
    -- a plain table: multi-row batches, as COPY writes (esi._bulk_insert)
    rows := esi._bulk_insert(dest, query);
    added := rows;
  ELSE
    -- partitioned (history), row-level security, triggers or rules on INSERT
    EXECUTE format('INSERT INTO %s %s', dest, query);
    GET DIAGNOSTICS rows = ROW_COUNT;
    added := rows;
  END IF;
END;
$$;

-- == security: names and error budget ==
-- esi.names keeps only what ESI itself answered (esi_call: a server on ESI's
-- URL, esi_fdw.base_url or exactly an allowed URL, or a superuser's) and only
-- for the ids asked.  names_of() still answers from any server the caller may
-- use: the ids esi.names lacks come from that server's reply, to the caller only.
CREATE OR REPLACE FUNCTION names_of(ids bigint[], server text DEFAULT 'esi')
RETURNS TABLE(id bigint, name text, category text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s name := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
              WHERE e.extname = 'esi_fdw');
  missing bigint[];
  fetched jsonb := '[]';
BEGIN
  EXECUTE format('SELECT array_agg(DISTINCT u) FROM unnest($1) u
                   WHERE u IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %I.names n WHERE n.id = u)', s)
    INTO missing USING ids;
  IF missing IS NOT NULL THEN
    -- remembers what it finds in esi.names when the server is ESI's
    EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_build_object(''id'', f.id, ''name'', f.name,
                                                                  ''category'', f.category)), ''[]'')
                      FROM %I.post_universe_names($1, $2) f', s)
      INTO fetched USING missing, server;
  END IF;
  RETURN QUERY EXECUTE format(
    'SELECT i.u, coalesce(n.name, f.name), coalesce(n.category, f.category)
       FROM (SELECT u, min(o) AS o FROM unnest($1) WITH ORDINALITY AS x(u, o) GROUP BY u) AS i
       LEFT JOIN %I.names n ON n.id = i.u
       LEFT JOIN (SELECT DISTINCT ON (r.id) r.id, r.name, r.category
                    FROM jsonb_to_recordset($2) AS r(id bigint, name text, category text)
                   ORDER BY r.id) f ON f.id = i.u
      WHERE n.id IS NOT NULL OR f.id IS NOT NULL
      ORDER BY i.o', s) USING ids, fetched;
END
$$;
COMMENT ON FUNCTION names_of(bigint[], text) IS 'Names of ids: from esi.names, asking the server (POST /universe/names) only for the ids it does not hold; esi.names keeps only ESI''s answers';
