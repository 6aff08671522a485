from django.urls import path

from clusters import views

urlpatterns = [
    path("clusters/new/", views.cluster_register, name="cluster_register"),
    path("clusters/<slug:name>/runs/", views.cluster_runs_partial, name="cluster_runs_partial"),
    path("clusters/<slug:name>/collect/", views.cluster_collect, name="cluster_collect"),
    path("clusters/<slug:name>/upload/", views.cluster_upload, name="cluster_upload"),
    path(
        "clusters/<slug:name>/test-connection/",
        views.cluster_test_connection,
        name="cluster_test_connection",
    ),
]
