from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from compliance.models import Attestation, AuditEvent, Waiver


class ReadOnlyAdmin(admin.ModelAdmin):
    """Changes go through the services, which check the rules and write the audit log."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Attestation)
class AttestationAdmin(ReadOnlyAdmin):
    list_display = [
        "cluster",
        "guide",
        "item_id",
        "attested_by",
        "attested_at",
        "reattest_by",
        "revoked_at",
    ]
    list_filter = ["guide"]
    search_fields = ["cluster__name", "item_id", "justification"]


@admin.register(Waiver)
class WaiverAdmin(ReadOnlyAdmin):
    list_display = [
        "cluster",
        "check_id",
        "owner_email",
        "requested_by",
        "approved_by",
        "expires_at",
        "revoked_at",
    ]
    search_fields = ["cluster__name", "check_id", "owner_email", "reason"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "action", "object_type", "object_id", "cluster_name"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "cluster_name", "object_id"]
