"""The queue seam sends a task by name through Celery's routing, without importing the task's module."""

from __future__ import annotations

import base64
import json
import sys

import pytest

from commandcenter.celery import app
from core.jobs import ANALYSE_TASK, job_status, job_submit
from core.redis import redis_client


@pytest.fixture
def default_queue():  # type: ignore[no-untyped-def]
    """The broker's `default` list, emptied before and after (no worker consumes it in tests)."""
    client = redis_client(app.conf.broker_url)
    client.delete("default")
    yield client
    client.delete("default")


def test_a_submitted_job_is_queued_by_name_on_the_default_queue(default_queue, tmp_path, monkeypatch):
    # given a web process that has not loaded the stream workers
    monkeypatch.delitem(sys.modules, "workers.tasks", raising=False)
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    # when a recording is submitted
    job_id = job_submit(path=tmp_path / "clip.mp4", fps=2.5)
    # then its state says queued, one message names the worker task with the job's arguments (routed to
    # `default`, never behind the camera slots), and the worker module was not imported to send it
    assert job_status(job_id) == {"id": job_id, "state": "queued", "progress": 0.0}
    messages = [json.loads(raw) for raw in default_queue.lrange("default", 0, -1)]
    assert [m["headers"]["task"] for m in messages] == [ANALYSE_TASK]
    args, kwargs, _ = json.loads(base64.b64decode(messages[0]["body"]))
    assert (args, kwargs) == ([job_id, str(tmp_path / "clip.mp4"), 2.5, None], {})
    assert "workers.tasks" not in sys.modules
