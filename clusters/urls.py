from django.urls import path

from clusters import views

urlpatterns = [
    path("clusters/new/", views.cluster_register, name="cluster_register"),
    path("clusters/<slug:name>/runs/", views.cluster_runs_partial, name="cluster_runs_partial"),
    path("clusters/<slug:name>/collect/", views.cluster_collect, name="cluster_collect"),
    path("clusters/<slug:name>/upload/", views.cluster_upload, name="cluster_upload"),
    path(
        "clusters/<slug:name>/provider/link/", views.provider_link_save, name="provider_link_save"
    ),
    path(
        "clusters/<slug:name>/provider/link/remove/",
        views.provider_link_remove,
        name="provider_link_remove",
    ),
    path(
        "clusters/<slug:name>/provider/documents/",
        views.provider_document_upload,
        name="provider_document_upload",
    ),
    path(
        "clusters/<slug:name>/provider/documents/<slug:kind>/remove/",
        views.provider_document_remove,
        name="provider_document_remove",
    ),
    path(
        "clusters/<slug:name>/kube-bench/",
        views.node_benchmark_upload,
        name="node_benchmark_upload",
    ),
    path(
        "clusters/<slug:name>/kube-bench/<str:node>/remove/",
        views.node_benchmark_remove,
        name="node_benchmark_remove",
    ),
    path(
        "clusters/<slug:name>/test-connection/",
        views.cluster_test_connection,
        name="cluster_test_connection",
    ),
]
