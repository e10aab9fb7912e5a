"""Retention may purge the oldest audit rows, but only as an anchored prefix of the chain.

`audit_purge_through(id, reason)` (SECURITY DEFINER) takes the chain lock, writes a ChainAnchor
holding the hash of the last purged row, then deletes every row up to it with the transaction-local
flag `cc.audit_purge` set. The row trigger lets a DELETE through only with that flag AND only for
rows already covered by an anchor, so an ordinary DELETE is still refused, and even a session that
sets the flag by hand can remove nothing but rows an (append-only, visible) anchor already vouches
for. In production the application role gets no DELETE privilege on the audit tables and EXECUTE
on this function only; a database owner who disables triggers is caught by `chain_verify`.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND coalesce(current_setting('cc.audit_purge', true), '') = 'on'
       AND OLD.id <= (SELECT coalesce(max(last_purged_id), 0) FROM audit_chainanchor) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_accessevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE OR REPLACE FUNCTION audit_anchor_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND coalesce(current_setting('cc.audit_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_chainanchor is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_chainanchor_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_chainanchor
    FOR EACH ROW EXECUTE FUNCTION audit_anchor_refuse_change();

CREATE TRIGGER audit_chainanchor_no_truncate
    BEFORE TRUNCATE ON audit_chainanchor
    FOR EACH STATEMENT EXECUTE FUNCTION audit_anchor_refuse_change();

CREATE OR REPLACE FUNCTION audit_purge_through(through_id bigint, purge_reason text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    last_row audit_accessevent%ROWTYPE;
    purged bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(727100001);
    SELECT * INTO last_row FROM audit_accessevent WHERE id = through_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit purge: row % does not exist', through_id;
    END IF;
    IF through_id <= (SELECT coalesce(max(last_purged_id), 0) FROM audit_chainanchor) THEN
        RAISE EXCEPTION 'audit purge: row % is already behind an anchor', through_id;
    END IF;
    SELECT count(*) INTO purged FROM audit_accessevent WHERE id <= through_id;
    INSERT INTO audit_chainanchor (created_at, last_purged_id, last_purged_hash, last_purged_at, purged_rows, reason)
        VALUES (now(), through_id, last_row.hash, last_row.at, purged, left(purge_reason, 200));
    PERFORM set_config('cc.audit_purge', 'on', true);
    DELETE FROM audit_accessevent WHERE id <= through_id;
    PERFORM set_config('cc.audit_purge', 'off', true);
    RETURN purged;
END;
$$;

REVOKE ALL ON FUNCTION audit_purge_through(bigint, text) FROM PUBLIC;
"""

BACKWARD = """
DROP FUNCTION IF EXISTS audit_purge_through(bigint, text);
DROP TRIGGER IF EXISTS audit_chainanchor_no_truncate ON audit_chainanchor;
DROP TRIGGER IF EXISTS audit_chainanchor_no_update_delete ON audit_chainanchor;
DROP FUNCTION IF EXISTS audit_anchor_refuse_change();
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_accessevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_retention_anchor")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
