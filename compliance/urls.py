from django.urls import path

from compliance import downloads, views
from compliance.reports import views as reports

urlpatterns = [
    path("clusters/<slug:name>/guides/", views.guide_index, name="guide_index"),
    path("clusters/<slug:name>/guides/<slug:guide>/", views.checklist_view, name="checklist"),
    path(
        "clusters/<slug:name>/guides/<slug:guide>/items/<str:item_id>/",
        views.checklist_item,
        name="checklist_item",
    ),
    path(
        "clusters/<slug:name>/guides/<slug:guide>/items/<str:item_id>/attest/",
        views.attestation_create,
        name="attestation_create",
    ),
    path("attestations/<int:pk>/revoke/", views.attestation_revoke, name="attestation_revoke"),
    path(
        "attestations/<int:pk>/evidence/", views.attestation_evidence, name="attestation_evidence"
    ),
    path("clusters/<slug:name>/waivers/", views.waiver_list, name="waiver_list"),
    path(
        "clusters/<slug:name>/waivers/request/<str:check_id>/",
        views.waiver_request,
        name="waiver_request",
    ),
    path("waivers/<int:pk>/approve/", views.waiver_approve, name="waiver_approve"),
    path("waivers/<int:pk>/revoke/", views.waiver_revoke, name="waiver_revoke"),
    path("catalog/", views.catalog, name="catalog"),
    path("audit/", views.audit_log, name="audit_log"),
    path(
        "clusters/<slug:name>/findings/export/<slug:fmt>/",
        downloads.findings_download,
        name="findings_download",
    ),
    path("audit/export/<slug:fmt>/", downloads.audit_log_download, name="audit_log_download"),
    # Compliance reports (compliance/reports) and the checklist's exports.
    path("clusters/<slug:name>/reports/", reports.cluster_reports, name="cluster_reports"),
    path(
        "clusters/<slug:name>/reports/list/",
        reports.cluster_reports_list,
        name="cluster_reports_list",
    ),
    path("reports/", reports.fleet_reports, name="fleet_reports"),
    path("reports/list/", reports.fleet_reports_list, name="fleet_reports_list"),
    path("reports/<int:pk>/download/", reports.report_download, name="report_download"),
    path(
        "clusters/<slug:name>/guides/<slug:guide>/export.<str:format>",
        reports.checklist_export,
        name="checklist_export",
    ),
]
