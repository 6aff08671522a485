from django.urls import path

from posture import views

urlpatterns = [
    path("clusters/<slug:name>/checks/<str:check_id>/", views.check_detail, name="check_detail"),
    path("score/", views.score_formula, name="score_formula"),
]
