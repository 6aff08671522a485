from django.db import migrations


def sync_roles(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Deployments that ran accounts.0001 before this app existed get its permissions in roles.
    from accounts.roles import roles_sync

    roles_sync()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_roles"),
        ("compliance", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
