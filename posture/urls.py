from django.urls import path

from posture.views import check, cluster, fleet

urlpatterns = [
    path("", fleet.fleet, name="fleet"),
    path("clusters/<slug:name>/", cluster.cluster_detail, name="cluster_detail"),
    path("clusters/<slug:name>/checks/<str:check_id>/", check.check_detail, name="check_detail"),
    path("score/", check.score_formula, name="score_formula"),
]
