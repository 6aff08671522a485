from django.apps import AppConfig


class ClustersConfig(AppConfig):
    name = "clusters"
    verbose_name = "Clusters and collections"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from clusters import system_checks  # noqa: F401  (registers the checks)
        from clusters.models import (
            Cluster,
            ClusterOwner,
            NodeBenchmark,
            ProviderDocument,
            ProviderLink,
        )
        from clusters.page_cache import cluster_row_saved_or_deleted, cluster_saved_or_deleted

        # Invalidation, not behaviour: the cached pages must drop a cluster however it goes,
        # and show its owners, provider link and uploads however they change (the admin too).
        for signal in (post_save, post_delete):
            signal.connect(cluster_saved_or_deleted, sender=Cluster, dispatch_uid="page-cache")
            for model in (ClusterOwner, ProviderLink, ProviderDocument, NodeBenchmark):
                signal.connect(
                    cluster_row_saved_or_deleted, sender=model, dispatch_uid="page-cache"
                )
