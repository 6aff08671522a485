from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "compliance"
    verbose_name = "Compliance: guides, attestations, waivers, audit log"

    def ready(self) -> None:
        # Provider links and documents change what a cluster's collections read: audited.
        from clusters.signals import cluster_changed
        from compliance.services import audit_cluster_change

        cluster_changed.connect(
            audit_cluster_change, dispatch_uid="compliance.audit_cluster_change"
        )
