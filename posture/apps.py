from django.apps import AppConfig


class PostureConfig(AppConfig):
    name = "posture"
    verbose_name = "Posture: checks, results and scores"

    def ready(self) -> None:
        from posture.catalog import catalog_load

        catalog_load()
