"""Settings come from the environment; bad values stop the start with a precise message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from commandcenter.env import env_bool, env_float, env_int, env_list, parse_database_url

REPO = Path(__file__).resolve().parents[2]


def test_env_helpers_parse_and_bound_values():
    env = {"N": "5", "B": "yes", "F": "0.25", "L": "a, b,,c"}
    assert env_int("N", 1, minimum=1, maximum=10, environ=env) == 5
    assert env_int("MISSING", 7, environ=env) == 7
    assert env_bool("B", False, environ=env) is True
    assert env_bool("MISSING", True, environ=env) is True
    assert env_float("F", 1.0, environ=env) == 0.25
    assert env_list("L", [], environ=env) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: env_int("N", 1, environ={"N": "five"}), "N must be an integer, got 'five'"),
        (lambda: env_int("N", 1, minimum=2, environ={"N": "1"}), "N must be at least 2, got 1"),
        (lambda: env_bool("B", False, environ={"B": "maybe"}), "B must be a boolean"),
        (lambda: env_float("F", 1.0, maximum=1.0, environ={"F": "2"}), "F must be at most 1.0, got 2.0"),
        (lambda: parse_database_url("mysql://h/db"), "DATABASE_URL must start with postgres://"),
        (lambda: parse_database_url("postgres://h:99999/db"), "DATABASE_URL has an invalid port"),
        (lambda: parse_database_url("postgres://h/"), "DATABASE_URL must name a database"),
    ],
)
def test_bad_values_raise_improperly_configured(call, message):
    with pytest.raises(ImproperlyConfigured) as info:
        call()
    assert message in str(info.value)


def test_database_url_with_socket_host_and_options():
    parsed = parse_database_url("postgresql://u:p%40ss@/cc?host=/var/run/postgresql&sslmode=require")
    assert (parsed["NAME"], parsed["USER"], parsed["PASSWORD"], parsed["HOST"]) == (
        "cc",
        "u",
        "p@ss",
        "/var/run/postgresql",
    )
    assert parsed["OPTIONS"] == {"sslmode": "require"}


def _settings_in_subprocess(extra_env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(extra_env)
    env["DJANGO_SETTINGS_MODULE"] = "commandcenter.settings"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE 'Mars/Olympus' is not a known IANA time zone"),
        ({"LANGUAGE_CODE": "de"}, "LANGUAGE_CODE must be one of en, ru, kk"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 32 characters long"),
        ({"DEBUG": "perhaps"}, "DEBUG must be a boolean"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL must start with redis://"),
        ({"CC_EMBEDDED": "0", "DATABASE_URL": "", "REDIS_URL": ""}, "DATABASE_URL and REDIS_URL must be set"),
        ({"CC_FIGHT_MODEL": "/nowhere/city.json"}, "CC_FIGHT_MODEL: no such file '/nowhere/city.json'"),
        ({"CC_REQUIRE_2FA_FOR": "admin,boss"}, "CC_REQUIRE_2FA_FOR lists unknown roles: 'admin,boss'"),
    ],
)
def test_settings_module_refuses_bad_environment(env, message):
    base = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    result = _settings_in_subprocess({**base, **env}, "import django; django.setup()")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_external_servers_are_used_when_urls_are_set(tmp_path):
    code = (
        "import django, os; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['PORT'], settings.REDIS_URL);"
        "import pathlib; print(pathlib.Path(os.environ['CC_VAR_DIR'], 'postgres').exists())"
    )
    result = _settings_in_subprocess(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "CC_VAR_DIR": str(tmp_path),
        },
        code,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["5432", "redis://127.0.0.1:6379/3", "False"]
