from django.urls import path

from alerts import views

urlpatterns = [
    path("alerts/notifications/", views.notification_log, name="alerts_notifications"),
    path("alerts/notifications/test/", views.notification_test, name="alerts_test_email"),
    path("alerts/subscriptions/", views.subscriptions, name="alerts_subscriptions"),
    path(
        "alerts/subscriptions/<int:subscription_id>/delete/",
        views.subscription_delete,
        name="alerts_subscription_delete",
    ),
    path("alerts/unsubscribe/<str:token>/", views.unsubscribe, name="alerts_unsubscribe"),
]
