"""Alert actions are compare-and-set and leave an exact history."""

from __future__ import annotations

import pytest

from alerts.models import Alert, AlertEvent
from alerts.services import (
    AlertActionError,
    AlertConflict,
    alert_acknowledge,
    alert_dispatch,
    alert_escalate,
    alert_raise,
    alert_resolve,
)
from audit.models import AccessEvent

pytestmark = pytest.mark.django_db


def _fight(camera):  # type: ignore[no-untyped-def]
    return alert_raise(kind="fight", camera=camera, severity=3, score=0.8, track_key="w1").alert


def test_raise_then_seen_again_updates_the_same_alert(camera):
    first = alert_raise(kind="fight", camera=camera, severity=3, score=0.7, track_key="w1")
    again = alert_raise(kind="fight", camera=camera, severity=3, score=0.9, track_key="w1", details={"peak": 2})
    assert (first.created, again.created, again.alert.pk) == (True, False, first.alert.pk)
    alert = Alert.objects.get()
    assert (alert.score, alert.details, alert.change_seq > first.alert.change_seq) == (0.9, {"peak": 2}, True)
    assert list(alert.events.values_list("action", flat=True)) == ["raised"]


def test_second_acknowledgement_loses_and_is_told(camera, dispatcher, supervisor):
    alert = _fight(camera)
    alert_acknowledge(alert_id=alert.pk, actor=dispatcher)
    with pytest.raises(AlertConflict) as info:
        alert_acknowledge(alert_id=alert.pk, actor=supervisor)
    assert info.value.current_status == "acknowledged"
    events = list(AlertEvent.objects.filter(alert=alert).values_list("action", "from_status", "to_status"))
    assert events == [("raised", "", "new"), ("acknowledged", "new", "acknowledged")]
    assert Alert.objects.get().assigned_to == dispatcher


def test_escalate_and_resolve_record_the_status_they_came_from(camera, dispatcher):
    alert = _fight(camera)
    escalated = alert_escalate(alert_id=alert.pk, actor=dispatcher, note="two groups")
    assert (escalated.status, escalated.severity) == ("escalated", 4)
    resolved = alert_resolve(alert_id=alert.pk, actor=dispatcher, outcome="handled")
    assert (resolved.status, resolved.outcome) == ("resolved", "handled")
    history = list(alert.events.values_list("action", "from_status", "to_status"))
    assert history[1:] == [("escalated", "new", "escalated"), ("resolved", "escalated", "resolved")]
    actions = AccessEvent.objects.filter(user_id=dispatcher.pk, action="alert_action").count()
    assert actions == 2


def test_resolve_needs_an_outcome_and_a_resolved_alert_cannot_be_resolved_again(camera, dispatcher):
    alert = _fight(camera)
    with pytest.raises(AlertActionError):
        alert_resolve(alert_id=alert.pk, actor=dispatcher, outcome="")
    alert_resolve(alert_id=alert.pk, actor=dispatcher, outcome="no_action")
    with pytest.raises(AlertConflict):
        alert_resolve(alert_id=alert.pk, actor=dispatcher, outcome="no_action")


@pytest.fixture
def enrolled(watchlist, admin_user):  # type: ignore[no-untyped-def]
    """A subject on the watchlist and one face template of theirs."""
    from tests.support.subjects import subject_on
    from watchlists.models import FaceTemplate

    subject = subject_on(watchlist, admin_user, days=3)
    return subject, FaceTemplate.objects.create(subject=subject, quality_score=0.9, source_photo="x", face_crop="y")


def test_an_unconfirmed_face_match_cannot_be_dispatched(camera, dispatcher, enrolled):
    subject, template = enrolled
    alert = alert_raise(
        kind="face_match", camera=camera, severity=3, score=0.95, subject=subject, template=template, track_key="f1"
    ).alert
    with pytest.raises(AlertActionError, match="must be confirmed by a person"):
        alert_dispatch(alert_id=alert.pk, actor=dispatcher)
    assert Alert.objects.get().status == "new"


def test_an_incident_without_a_severity_is_refused_and_nothing_is_stored(camera):
    # given a fight reported without a severity, then it is refused by name and no alert row exists
    with pytest.raises(ValueError, match="a fight alert needs a severity"):
        alert_raise(kind="fight", camera=camera, score=0.8, track_key="w1")
    assert not Alert.objects.exists()


def test_a_face_match_raised_by_ids_takes_its_watchlists_severity(camera, watchlist, enrolled):
    # given a subject on a list whose alerts are critical, reported by ids as a stream worker does
    watchlist.alert_severity = 4
    watchlist.save()
    subject, template = enrolled
    # when the match is raised with no severity
    alert = alert_raise(
        kind="face_match", camera=camera, score=0.95, subject_id=subject.pk, template_id=template.pk, track_key="f1"
    ).alert
    # then the alert names the subject and template and carries the watchlist's severity
    assert (alert.subject_id, alert.template_id, alert.severity) == (subject.pk, template.pk, 4)
