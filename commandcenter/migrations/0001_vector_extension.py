"""Enable pgvector; fail with a clear message when the server does not have it."""

from django.db import migrations


class EnableVector(migrations.operations.base.Operation):
    """CREATE EXTENSION vector, after checking the server can provide it."""

    reversible = True
    reduces_to_sql = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        cursor = schema_editor.connection.cursor()
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        if cursor.fetchone() is None:
            raise RuntimeError(
                "This PostgreSQL server has no pgvector extension ('vector'). Install pgvector on it "
                "(e.g. the postgresql-NN-pgvector package) or unset DATABASE_URL to use the embedded "
                "PostgreSQL, which ships it."
            )
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS vector")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        schema_editor.execute("DROP EXTENSION IF EXISTS vector")

    def describe(self):
        return "Enable the pgvector extension"


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [EnableVector()]
