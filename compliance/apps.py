from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "compliance"
    verbose_name = "Compliance: guides, attestations, waivers, audit log"

    def ready(self) -> None:
        # Provider links and documents change what a cluster's collections read: audited.
        from accounts.signals import account_changed
        from clusters.signals import cluster_changed
        from compliance.services import audit_account_change, audit_cluster_change

        cluster_changed.connect(
            audit_cluster_change, dispatch_uid="compliance.audit_cluster_change"
        )
        # Accounts created, roles changed, people deactivated in the app: audited too.
        account_changed.connect(
            audit_account_change, dispatch_uid="compliance.audit_account_change"
        )
