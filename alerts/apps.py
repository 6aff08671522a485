from django.apps import AppConfig


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"
    verbose_name = "Regressions and alerts"

    def ready(self) -> None:
        from alerts import system_checks  # noqa: F401  (registers the checks)
