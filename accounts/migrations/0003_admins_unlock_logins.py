from django.db import migrations


def sync_roles(apps, schema_editor):  # type: ignore[no-untyped-def]
    from accounts.roles import roles_sync

    roles_sync()


class Migration(migrations.Migration):
    """Admins gain django-axes' access attempts: they see failed logins and unlock people."""

    dependencies = [
        ("accounts", "0002_sso_identity"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
