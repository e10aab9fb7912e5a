"""Project-wide pytest fixtures: real sample data, roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.required import unavailable
from tools.sampledata import sample_data_dir


@pytest.fixture(autouse=True)
def _default_language():  # type: ignore[no-untyped-def]
    """Each test starts in the default language: a request in Russian leaves it active in the thread."""
    from django.utils import translation

    yield
    translation.deactivate()


def _missing(what: str) -> None:
    unavailable(
        f"sample data not found: {what} (set CC_SAMPLE_DATA to the folder of real "
        "photos and clips, by default ../shared/data)"
    )


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The real photos/clips folder; skips (fails under CI) when absent."""
    root = sample_data_dir()
    if root is None:
        _missing("folder")
    assert root is not None
    return root


@pytest.fixture(scope="session")
def sample_file(sample_data: Path):  # type: ignore[no-untyped-def]
    """Return a function that resolves a path inside the sample data or skips."""

    def resolve(*parts: str) -> Path:
        path = sample_data.joinpath(*parts)
        if not path.exists():
            _missing("/".join(parts))
        return path

    return resolve


@pytest.fixture(scope="session")
def system_file():  # type: ignore[no-untyped-def]
    """Return a function that resolves a file a Debian package installs (``opencv-doc``'s ``vtest.avi``) or
    skips (fails under CI=true), naming the package that ``scripts/system-deps.sh`` installs."""

    def resolve(package: str, path: str) -> Path:
        found = Path(path)
        if not found.exists():
            unavailable(f"{path} not found: install the Debian package {package} (scripts/system-deps.sh does)")
        return found

    return resolve


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Let the test database flush the append-only audit table between transactional tests."""
    from django.conf import settings

    options = settings.DATABASES["default"].setdefault("OPTIONS", {})
    assert isinstance(options, dict)
    options["options"] = "-c cc.audit_truncate=on"


def _user_with_role(django_user_model, username: str, role: str | None, *, all_venues: bool = True):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group

    from core.roles import ensure_role_groups
    from venues.models import OperatorScope

    if role and not Group.objects.filter(name=role).exists():
        ensure_role_groups()  # a transactional test's flush removed the migration-created groups

    user = django_user_model.objects.create_user(username=username, password="correct-horse-battery")
    if role:
        user.groups.add(Group.objects.get(name=role))
        user.is_staff = role == "admin"
        user.save()
    OperatorScope.objects.create(user=user, all_venues=all_venues)
    return user


@pytest.fixture
def dispatcher(django_user_model):  # type: ignore[no-untyped-def]
    return _user_with_role(django_user_model, "dispatcher1", "dispatcher")


@pytest.fixture
def supervisor(django_user_model):  # type: ignore[no-untyped-def]
    return _user_with_role(django_user_model, "supervisor1", "supervisor")


@pytest.fixture
def admin_user(django_user_model):  # type: ignore[no-untyped-def]
    return _user_with_role(django_user_model, "admin1", "admin")


@pytest.fixture
def auditor(django_user_model):  # type: ignore[no-untyped-def]
    return _user_with_role(django_user_model, "auditor1", "auditor")


@pytest.fixture
def authoriser(django_user_model):  # type: ignore[no-untyped-def]
    """A senior officer who may authorise face-matching deployments (not their own)."""
    return _user_with_role(django_user_model, "authoriser0", "authoriser")


@pytest.fixture
def outsider(django_user_model):  # type: ignore[no-untyped-def]
    """Logged in, but with no role."""
    return _user_with_role(django_user_model, "outsider1", None, all_venues=False)


@pytest.fixture
def api_client():  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def venue(db):  # type: ignore[no-untyped-def]
    from venues.models import Venue

    return Venue.objects.create(
        name="Club Almaty",
        kind="entertainment",
        district="Medeu",
        latitude="43.238949",
        longitude="76.889709",
        capacity=800,
    )


@pytest.fixture
def camera(venue):  # type: ignore[no-untyped-def]
    from venues.models import Camera

    return Camera.objects.create(venue=venue, name="Entrance", stream_url="rtsp://10.0.0.5:554/stream1")


@pytest.fixture
def watchlist(admin_user):  # type: ignore[no-untyped-def]
    from watchlists.models import Watchlist

    return Watchlist.objects.create(
        name="Wanted persons",
        category="wanted",
        legal_basis="Court order 12/2026",
        owner=admin_user,
        match_threshold=0.93,
    )
