"""Retention purges the oldest audit rows only behind an anchor; the chain stays verifiable."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AccessEvent, ChainAnchor
from audit.services import access_record, chain_purge_through, chain_verify

pytestmark = pytest.mark.django_db


def _rows(user, n=5):  # type: ignore[no-untyped-def]
    return [
        access_record(user=user, action="view", object_type="watchlists.subject", object_id=f"s{i}") for i in range(n)
    ]


def test_purge_through_writes_an_anchor_and_verify_starts_from_it(admin_user):
    # given five chained rows
    rows = _rows(admin_user)
    # when the oldest two are purged
    purged = chain_purge_through(through_id=rows[1].id, reason="test")
    # then exactly those are gone, an anchor holds the hash of the last one, and the chain verifies
    assert purged == 2
    assert list(AccessEvent.objects.order_by("id").values_list("id", flat=True)) == [r.id for r in rows[2:]]
    anchor = ChainAnchor.objects.get()
    assert (anchor.last_purged_id, anchor.last_purged_hash, anchor.purged_rows) == (rows[1].id, rows[1].hash, 2)
    report = chain_verify()
    assert (report.ok, report.rows_checked, report.anchor_through_id) == (True, 3, rows[1].id)


def test_after_purging_everything_new_rows_chain_onto_the_anchor(admin_user):
    rows = _rows(admin_user, 2)
    chain_purge_through(through_id=rows[1].id, reason="test")
    new = access_record(user=admin_user, action="view")
    assert new.prev_hash == rows[1].hash
    assert chain_verify().ok


def test_deleting_the_first_row_after_an_anchor_is_detected(admin_user):
    rows = _rows(admin_user)
    chain_purge_through(through_id=rows[0].id, reason="test")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_accessevent DISABLE TRIGGER audit_accessevent_no_update_delete")
        cursor.execute("DELETE FROM audit_accessevent WHERE id = %s", [rows[1].id])
        cursor.execute("ALTER TABLE audit_accessevent ENABLE TRIGGER audit_accessevent_no_update_delete")
    report = chain_verify()
    assert (report.ok, report.first_broken_id) == (False, rows[2].id)


def test_the_purge_flag_alone_cannot_delete_rows_no_anchor_covers(admin_user):
    # given a session that sets the purge flag by hand
    rows = _rows(admin_user, 3)
    chain_purge_through(through_id=rows[0].id, reason="test")
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as cursor:  # noqa: PT012
        cursor.execute("SET LOCAL cc.audit_purge = 'on'")
        cursor.execute("DELETE FROM audit_accessevent WHERE id = %s", [rows[2].id])
    # then the database refuses: no anchor covers that row
    assert "append-only" in str(info.value)
    assert AccessEvent.objects.filter(pk=rows[2].id).exists()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_chainanchor SET last_purged_hash = 'x'",
        "DELETE FROM audit_chainanchor",
        "TRUNCATE audit_chainanchor",
    ],
)
def test_anchors_are_append_only(admin_user, statement):
    rows = _rows(admin_user, 2)
    chain_purge_through(through_id=rows[0].id, reason="test")
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as cursor:  # noqa: PT012
        cursor.execute("SET LOCAL cc.audit_truncate = 'off'")
        cursor.execute(statement)
    assert "audit_chainanchor is append-only" in str(info.value)
    assert ChainAnchor.objects.get().last_purged_hash == rows[0].hash


def test_purge_cannot_go_backwards(admin_user):
    rows = _rows(admin_user, 3)
    chain_purge_through(through_id=rows[1].id, reason="test")
    with pytest.raises(DatabaseError, match=r"does not exist|already behind"), transaction.atomic():
        chain_purge_through(through_id=rows[0].id, reason="again")
    assert ChainAnchor.objects.count() == 1
