"""Indexes for the alert list (newest first) and the dashboard sort, built without locking writes."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("alerts", "0003_dispatch")]

    operations = [
        AddIndexConcurrently(
            model_name="alert", index=models.Index(fields=["-raised_at"], name="alert_raised_idx")
        ),
        AddIndexConcurrently(
            model_name="alert",
            index=models.Index(fields=["-severity", "-raised_at"], name="alert_severity_raised_idx"),
        ),
    ]
