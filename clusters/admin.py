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
        "api_server",
        "schedule_enabled",
        "next_collection_at",
    ]
    list_filter = ["environment", "source_kind", "schedule_enabled"]
    search_fields = ["name", "api_server"]
    # Credentials never appear in any form: they are written only by the registration service.
    exclude = ["credentials"]
    readonly_fields = ["latest_run", "latest_evaluation", "created_at", "created_by"]
    inlines = [ClusterOwnerInline]


@admin.register(CollectionRun)
class CollectionRunAdmin(admin.ModelAdmin):
    list_display = ["cluster", "status", "trigger", "created_at", "started_at", "finished_at"]
    list_filter = ["status", "trigger"]
    readonly_fields = [f.name for f in CollectionRun._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
