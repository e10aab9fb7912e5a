"""GIN index on AccessEvent.detail for one object's history (listings that showed a subject,
evidence of an alert); built CONCURRENTLY so a live, large log stays writable."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("audit", "0005_anchored_purge")]
    operations = [
        AddIndexConcurrently(
            model_name="accessevent",
            index=GinIndex(fields=["detail"], name="access_detail_gin", opclasses=["jsonb_path_ops"]),
        ),
    ]
