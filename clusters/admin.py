from django.contrib import admin

from clusters.models import Cluster, ClusterOwner, CollectionRun


class ClusterOwnerInline(admin.TabularInline):
    model = ClusterOwner
    extra = 0


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "environment",
        "source_kind",
        "api_server_display",
        "schedule_enabled",
        "next_collection_at",
    ]
    list_filter = ["environment", "source_kind", "schedule_enabled"]
    search_fields = ["name", "api_server"]
    # Credentials never appear in any form: they are written only by the registration service,
    # which also sets the API server (shown masked: rows from before userinfo was refused).
    exclude = ["credentials", "api_server"]
    readonly_fields = [
        "api_server_display",
        "latest_run",
        "latest_evaluation",
        "created_at",
        "created_by",
    ]
    inlines = [ClusterOwnerInline]

    @admin.display(description="API server")
    def api_server_display(self, cluster: Cluster) -> str:
        return cluster.api_server_display


@admin.register(CollectionRun)
class CollectionRunAdmin(admin.ModelAdmin):
    list_display = ["cluster", "status", "trigger", "created_at", "started_at", "finished_at"]
    list_filter = ["status", "trigger"]
    readonly_fields = [f.name for f in CollectionRun._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
