from django.apps import AppConfig


class ClustersConfig(AppConfig):
    name = "clusters"
    verbose_name = "Clusters and collections"

    def ready(self) -> None:
        from clusters import system_checks  # noqa: F401  (registers the checks)
