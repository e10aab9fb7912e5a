"""Property-based run of every API operation in the OpenAPI schema, in-process over WSGI, as an
admin (token): no input may produce a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.django_db

SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
APP = WSGIHandler()


@pytest.fixture
def admin_token(admin_user, camera, watchlist):  # type: ignore[no-untyped-def]
    from django.core import signals
    from django.db import close_old_connections
    from rest_framework.authtoken.models import Token

    # like django.test.Client: keep the test transaction's connection open across requests
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield Token.objects.create(user=admin_user).key
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@SCHEMA.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_the_api_fail(case, admin_token):  # type: ignore[no-untyped-def]
    response = case.call(app=APP, headers={"Authorization": f"Token {admin_token}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: "
        f"{response.text[:300]}\n{case.as_curl_command()}"
    )
