"""The access log is append-only in the database, and the verify step names a tampered row."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from audit.models import AccessEvent
from audit.services import GENESIS_HASH, access_record, chain_verify

pytestmark = pytest.mark.django_db


def _three_rows(user):  # type: ignore[no-untyped-def]
    return [
        access_record(user=user, action="view", object_type="watchlists.subject", object_id=f"s{i}", purpose="case 1")
        for i in range(3)
    ]


def test_rows_are_chained(admin_user):
    first, second, third = _three_rows(admin_user)
    assert first.prev_hash == GENESIS_HASH
    assert (second.prev_hash, third.prev_hash) == (first.hash, second.hash)
    report = chain_verify()
    assert (report.ok, report.rows_checked) == (True, 3)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_accessevent SET purpose = 'nothing to see' WHERE object_id = 's1'",
        "DELETE FROM audit_accessevent WHERE object_id = 's1'",
        "TRUNCATE audit_accessevent",
    ],
)
def test_direct_sql_changes_are_refused_by_the_database(admin_user, statement):
    _three_rows(admin_user)
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as cursor:  # noqa: PT012
        cursor.execute("SET LOCAL cc.audit_truncate = 'off'")
        cursor.execute(statement)
    assert "append-only" in str(info.value)
    assert AccessEvent.objects.filter(purpose="case 1").count() == 3


def _tamper(sql: str, params: list[object]) -> None:
    """What a database owner could still do: switch the trigger off and rewrite rows."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_accessevent DISABLE TRIGGER audit_accessevent_no_update_delete")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_accessevent ENABLE TRIGGER audit_accessevent_no_update_delete")


def test_verify_names_an_edited_row(admin_user):
    rows = _three_rows(admin_user)
    _tamper("UPDATE audit_accessevent SET purpose = 'edited' WHERE id = %s", [rows[1].id])
    report = chain_verify()
    assert (report.ok, report.first_broken_id) == (False, rows[1].id)
    assert "contents do not match its hash" in report.reason


def test_verify_names_the_row_after_a_deleted_one(admin_user):
    rows = _three_rows(admin_user)
    _tamper("DELETE FROM audit_accessevent WHERE id = %s", [rows[1].id])
    report = chain_verify()
    assert report.first_broken_id == rows[2].id
    assert "removed or reordered" in report.reason


def test_verify_detects_reordered_rows(admin_user):
    rows = _three_rows(admin_user)
    _tamper(
        "UPDATE audit_accessevent SET object_id = CASE id WHEN %s THEN 's2' ELSE 's1' END WHERE id IN (%s, %s)",
        [rows[1].id, rows[1].id, rows[2].id],
    )
    assert chain_verify().first_broken_id == rows[1].id


def test_verify_command_reports_and_fails_on_a_broken_chain(admin_user, capsys):
    rows = _three_rows(admin_user)
    call_command("audit_verify")
    assert "chain intact: 3 rows" in capsys.readouterr().out
    _tamper("UPDATE audit_accessevent SET username = 'someone' WHERE id = %s", [rows[0].id])
    with pytest.raises(SystemExit) as info:
        call_command("audit_verify")
    assert info.value.code == 1
    assert f"BROKEN at row {rows[0].id}" in capsys.readouterr().out


def test_verify_names_a_row_whose_hash_was_recomputed_but_not_its_successor(admin_user):
    # given a tamperer who rewrote a row AND its own hash (but cannot rewrite every later row)
    rows = _three_rows(admin_user)
    from audit.services import chain_hash, row_payload

    edited = AccessEvent.objects.get(pk=rows[0].id)
    edited.purpose = "rewritten"
    _tamper(
        "UPDATE audit_accessevent SET purpose = 'rewritten', hash = %s WHERE id = %s",
        [chain_hash(edited.prev_hash, row_payload(edited)), rows[0].id],
    )
    # when / then: the next row no longer follows it
    report = chain_verify()
    assert (report.ok, report.first_broken_id) == (False, rows[1].id)
