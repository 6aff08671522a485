from django.urls import path

from history.views import compare, drift, trends

urlpatterns = [
    path("trends/", trends.fleet_trends, name="fleet_trends"),
    path("drift/", drift.fleet_drift, name="fleet_drift"),
    path("clusters/<slug:name>/trends/", trends.cluster_trends, name="cluster_trends"),
    path("clusters/<slug:name>/compare/", compare.cluster_compare, name="cluster_compare"),
]
