from django.contrib import admin

from alerts.models import Notification, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "cluster", "min_severity", "delivery", "created_at"]
    list_filter = ["delivery", "min_severity"]
    exclude = ["unsubscribe_token"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "cluster", "kind", "subject", "status", "attempts"]
    list_filter = ["status", "kind", "delivery"]
    search_fields = ["recipient", "subject", "dedup_key"]
    readonly_fields = [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False  # every notification comes from a regression or the test-email action
