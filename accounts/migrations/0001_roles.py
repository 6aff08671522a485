from django.db import migrations


def create_roles(apps, schema_editor):  # type: ignore[no-untyped-def]
    from accounts.roles import roles_sync

    roles_sync()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("clusters", "0002_initial"),
        ("posture", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
