from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("clusters.urls")),
    path("", include("posture.urls")),
    path("", include("compliance.urls")),
    path("", include("alerts.urls")),
    path("", include("history.urls")),
]
