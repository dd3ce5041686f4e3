-- esi_fdw: the objects that need the functions and views of the subsystem
-- files (the foreign data wrapper, policies, triggers), in their current
-- shape.  Run last by the install script only; see pre_install.sql.

CREATE FOREIGN DATA WRAPPER esi_fdw
  HANDLER esi_fdw_handler
  VALIDATOR esi_fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER esi_fdw IS 'EVE Online ESI (EVE Swagger Interface) as foreign tables';

-- == sso ==
CREATE POLICY own_or_granted ON sso_characters
  USING (pg_catalog.pg_has_role(owner_role, 'MEMBER')
         OR EXISTS (SELECT FROM esi.sso_character_grants g
                     WHERE g.server_name OPERATOR(pg_catalog.=) sso_characters.server_name
                       AND g.character_id OPERATOR(pg_catalog.=) sso_characters.character_id
                       AND pg_catalog.pg_has_role(g.grantee, 'MEMBER')));
CREATE POLICY own ON sso_character_grants USING (pg_catalog.pg_has_role(grantee, 'MEMBER'));
CREATE POLICY own ON sso_logins USING (pg_catalog.pg_has_role(role, 'MEMBER'));
CREATE POLICY server_owner ON sso_clients
  USING (EXISTS (SELECT FROM pg_catalog.pg_foreign_server s
                  WHERE s.srvname = sso_clients.server_name
                    AND pg_catalog.pg_has_role(s.srvowner, 'MEMBER')));
CREATE TRIGGER owner_changed AFTER UPDATE OF owner_role ON sso_characters
  FOR EACH ROW WHEN (OLD.owner_role IS DISTINCT FROM NEW.owner_role)
  EXECUTE FUNCTION _character_owner_changed();

-- == snapshots ==
-- a target, its log and its diffs are seen by the roles that may read its
-- snapshot table; an asset diff also by the role that may use the character
CREATE POLICY readers ON targets
  USING (pg_catalog.has_table_privilege(snapshot_table::oid, 'SELECT'));
CREATE POLICY readers ON refresh_log
  USING (EXISTS (SELECT FROM esi.targets t WHERE t.target = refresh_log.target));
CREATE POLICY readers ON asset_diffs FOR SELECT
  USING (owner_id IN (SELECT c.character_id FROM esi.characters c)
         OR EXISTS (SELECT FROM esi.targets t JOIN pg_catalog.pg_class r ON r.oid = t.snapshot_table
                     WHERE t.target = asset_diffs.target
                       AND pg_catalog.pg_has_role(r.relowner, 'MEMBER')));
CREATE POLICY writers ON asset_diffs
  USING (EXISTS (SELECT FROM esi.targets t
                  WHERE t.target = asset_diffs.target
                    AND pg_catalog.has_table_privilege(t.snapshot_table::oid, 'INSERT')));
CREATE TRIGGER refresh_role_member BEFORE INSERT OR UPDATE OF refresh_role ON targets
  FOR EACH ROW EXECUTE FUNCTION _targets_check_role();
-- a partition of a snapshot table gets its parent's row-level security
-- and SELECT grants (esi._secure_partitions)
CREATE EVENT TRIGGER esi_snapshot_partitions ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
  EXECUTE FUNCTION _snapshot_partitions_trigger();
