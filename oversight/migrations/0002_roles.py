"""Grant the oversight permissions to the roles and create the authoriser role.

Creates no deployment: an installed or upgraded system has face matching off on every camera until an
authoriser authorises one (README, "Upgrade notes")."""

from django.db import migrations


def grant(apps, schema_editor):
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
        for perm in perms:
            app_label, codename = perm.split(".")
            found = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is not None:
                group.permissions.add(found)


class Migration(migrations.Migration):
    dependencies = [
        ("oversight", "0001_initial"),
        ("audit", "0003_roles"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
