from django.contrib import admin

from alerts.models import Notification, NotificationEntry, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "cluster", "min_severity", "delivery", "created_at"]
    list_filter = ["delivery", "min_severity"]
    exclude = ["unsubscribe_token"]


class NotificationEntryInline(admin.TabularInline):
    """The regressions one email told: what keeps each from being told twice."""

    model = NotificationEntry
    fields = readonly_fields = ("kind", "severity", "dedup_key")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "cluster", "kind", "subject", "status", "attempts"]
    list_filter = ["status", "kind", "delivery"]
    search_fields = ["recipient", "subject", "dedup_key"]
    readonly_fields = [field.name for field in Notification._meta.fields]
    inlines = [NotificationEntryInline]

    def has_add_permission(self, request: object) -> bool:
        return False  # every notification comes from an occasion or the test-email action
