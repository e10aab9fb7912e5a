"""With no DATABASE_URL / REDIS_URL the embedded PostgreSQL (with pgvector) and Redis start; data persists."""

from __future__ import annotations

import socket

import psycopg
import pytest
import redis

from commandcenter import embedded


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_embedded_services_start_keep_data_across_restarts_and_stop(tmp_path):
    env = {
        "CC_VAR_DIR": str(tmp_path / "var"),
        "CC_EMBEDDED_PG_PORT": str(_free_port()),
        "CC_EMBEDDED_REDIS_PORT": str(_free_port()),
        "CC_EMBEDDED_KEEP": "1",
    }
    config = embedded.EmbeddedConfig.from_env(env)
    try:
        started = embedded.ensure_services(env)
        assert started == ["postgres", "redis"]
        assert env["DATABASE_URL"] == config.database_url
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute("CREATE TABLE kept (v vector(3))")
            conn.execute("INSERT INTO kept VALUES ('[1,2,3]')")
        redis.Redis.from_url(env["REDIS_URL"]).set("kept", "yes")
        assert embedded.ensure_services({**env, "DATABASE_URL": "", "REDIS_URL": ""}) == []  # already running

        embedded.stop_services(config)
        assert embedded.status(config) == {"postgres": False, "redis": False}

        assert embedded.ensure_services({**env, "DATABASE_URL": "", "REDIS_URL": ""}) == ["postgres", "redis"]
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT v::text FROM kept").fetchone() == ("[1,2,3]",)
        assert redis.Redis.from_url(env["REDIS_URL"]).get("kept") == b"yes"
    finally:
        embedded.stop_services(config)


def test_bad_embedded_port_is_a_clear_error():
    with pytest.raises(embedded.EmbeddedServiceError) as info:
        embedded.EmbeddedConfig.from_env({"CC_EMBEDDED_PG_PORT": "80"})
    assert "CC_EMBEDDED_PG_PORT must be a port number 1024-65535" in str(info.value)
