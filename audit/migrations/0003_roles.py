"""Create the dispatcher, supervisor, admin and auditor groups with their permissions."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from core.roles import ROLE_PERMISSIONS

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is not None:  # an app added later (oversight) grants its own in its migration
                wanted.append(found)
        group.permissions.set(wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
        ("alerts", "0002_initial"),
        ("venues", "0001_initial"),
        ("watchlists", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
