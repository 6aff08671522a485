from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from clusters.redaction import redact


def default_interval() -> timedelta:
    return settings.RAMPART_DEFAULT_COLLECTION_INTERVAL


class ClusterQuerySet(models.QuerySet["Cluster"]):
    def due(self, now: datetime | None = None) -> ClusterQuerySet:
        now = now or timezone.now()
        return self.filter(schedule_enabled=True).filter(
            Q(next_collection_at__isnull=True) | Q(next_collection_at__lte=now)
        )

    def environments(self) -> list[str]:
        """The environments clusters are registered in, sorted: what the filters offer."""
        return list(
            self.exclude(environment="")
            .order_by("environment")
            .values_list("environment", flat=True)
            .distinct()
        )

    def for_fleet(self) -> ClusterQuerySet:
        """What a fleet listing shows, and nothing more.

        Only the columns a row displays: a page of 50 would otherwise read the credentials and
        decode six JSON columns per row (run object counts, kind statuses, area scores...).
        """
        return self.select_related("latest_run", "latest_evaluation").only(
            "name",
            "environment",
            "latest_run__status",
            "latest_run__attempts",  # pending after an attempt: failed, will retry
            "latest_evaluation__score",
            "latest_evaluation__coverage",
            "latest_evaluation__created_at",
        )


class Cluster(models.Model):
    class SourceKind(models.TextChoices):
        KUBECONFIG = "kubeconfig", "Kubeconfig"
        IN_CLUSTER = "in_cluster", "In-cluster service account"
        BUNDLE = "bundle", "Evidence bundle"

    name = models.SlugField(max_length=100, unique=True)
    environment = models.CharField(max_length=40, blank=True, db_index=True)
    description = models.CharField(max_length=300, blank=True)
    source_kind = models.CharField(max_length=20, choices=SourceKind.choices)
    # Where the API server is, for display only; credentials (including the server URL and CA)
    # live encrypted in `credentials`.
    api_server = models.CharField(max_length=300, blank=True)
    context_name = models.CharField(max_length=200, blank=True)
    credentials = models.BinaryField(blank=True, editable=False, default=b"")
    schedule_enabled = models.BooleanField(default=True)
    collection_interval = models.DurationField(default=default_interval)
    next_collection_at = models.DateTimeField(null=True, blank=True, db_index=True)
    latest_run = models.ForeignKey(
        "clusters.CollectionRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The newest completed evaluation: what the fleet page and `posture` show.
    latest_evaluation = models.ForeignKey(
        "posture.Evaluation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("cluster_detail", kwargs={"name": self.name})

    @property
    def api_server_display(self) -> str:
        """The API server as pages show it: a `user:password@` stored before registration
        refused them is masked."""
        return redact(self.api_server)

    @property
    def is_live(self) -> bool:
        return self.source_kind in (self.SourceKind.KUBECONFIG, self.SourceKind.IN_CLUSTER)


class ClusterOwner(models.Model):
    """A person who receives this cluster's regressions; need not have a Rampart account."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="owners")
    email = models.EmailField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "email"], name="unique_cluster_owner")
        ]

    def __str__(self) -> str:
        return self.email


class CollectionRunQuerySet(models.QuerySet["CollectionRun"]):
    def active(self) -> CollectionRunQuerySet:
        return self.filter(status__in=CollectionRun.ACTIVE_STATUSES)

    def completed(self) -> CollectionRunQuerySet:
        return self.filter(status__in=CollectionRun.COMPLETED_STATUSES)


class CollectionRun(models.Model):
    """One collection of one cluster.

    pending  -> running   (a worker claimed it: compare-and-swap, so only one worker does)
    running  -> succeeded (every resource listed)
             -> partial   (some resources forbidden or failing; checks needing them are unknown)
             -> failed    (nothing usable: unreachable, 401, malformed bundle, crash, time limit)
    pending  -> failed    (the cluster was deleted or the run went stale)
    running  -> failed    (its heartbeat stopped: the worker died; clusters.collection)
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Started from the dashboard"
        COMMAND = "command", "Command line"
        UPLOAD = "upload", "Bundle upload"
        REGISTRATION = "registration", "Registration"

    ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING)
    COMPLETED_STATUSES = (Status.SUCCEEDED, Status.PARTIAL)

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    # For bundle clusters: the archive this run reads (each upload adds a run).
    bundle = models.FileField(upload_to="bundles/%Y/%m/", blank=True, max_length=300)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched by the collecting worker while it works (clusters.collection.heartbeat): a
    # running run whose heartbeat stopped lost its worker and is reaped within minutes.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When its message was last handed to the broker; a run pending long after that lost its
    # message (a broker restarted without persistence, a worker killed holding it) and is sent
    # again (clusters.services.runs_resend_lost). Null: never sent (the broker was down).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress = models.CharField(max_length=200, blank=True)
    fetch_seconds = models.FloatField(null=True, blank=True)
    evaluate_seconds = models.FloatField(null=True, blank=True)
    kubernetes_version = models.CharField(max_length=100, blank=True)
    object_counts = models.JSONField(default=dict, blank=True)
    kind_status = models.JSONField(default=dict, blank=True)
    kind_errors = models.JSONField(default=dict, blank=True)
    anonymous_probe = models.JSONField(null=True, blank=True)
    # "gke", "eks", "aks", "other" or "" (clusters.distribution): what provider-owned checklist
    # items are judged against, recorded so re-deriving this run's verdicts reads the same.
    # A database default too: code (or a migration's historical model) that predates the field
    # can still insert runs.
    distribution = models.CharField(max_length=20, blank=True, db_default="")
    last_error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    objects = CollectionRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["cluster", "-created_at"], name="run_cluster_created")]
        constraints = [
            # One collection per cluster at a time, enforced by the database, not by hope.
            models.UniqueConstraint(
                fields=["cluster"],
                condition=Q(status__in=["pending", "running"]),
                name="one_active_run_per_cluster",
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster} #{self.pk} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def state(self) -> tuple[str, str]:
        """(css class, label) of the run as people should read it.

        A pending run that was already attempted failed and waits for its retry
        (clusters.collection.run_requeue): "Failed, will retry", not "Pending".
        """
        if self.status == self.Status.PENDING and self.attempts:
            return "retrying", "Failed, will retry"
        return self.status, str(dict(self.Status.choices).get(self.status, self.status))

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class ProviderKind(models.TextChoices):
    """The managed control planes Rampart reads (clusters.providers: one module each)."""

    GKE = "gke", "Google Kubernetes Engine"
    EKS = "eks", "Amazon EKS"


class ProviderLink(models.Model):
    """Where a cluster's control plane is described by its provider, read in each collection.

    GKE: project, location (region or zone) and cluster name; EKS: region (`location`) and
    cluster name. Credentials are a Google service-account key JSON or an AWS access key pair,
    encrypted like kubeconfig credentials and never shown again; or `ambient`, the worker's own
    (GKE application default credentials, the AWS default chain). The link needs read access
    only: Kubernetes Engine Cluster Viewer; eks:DescribeCluster, ListNodegroups,
    DescribeNodegroup (README).
    """

    class Credentials(models.TextChoices):
        KEY = "key", "A stored key"
        AMBIENT = "ambient", "The worker's own credentials"

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="provider_link")
    kind = models.CharField(max_length=10, choices=ProviderKind.choices)
    project = models.CharField(max_length=100, blank=True)  # GKE only
    location = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    credentials_kind = models.CharField(max_length=10, choices=Credentials.choices)
    credentials = models.BinaryField(blank=True, editable=False, default=b"")
    # Who the stored key is, for people to recognise it: a service-account email or the
    # access key id's last four characters. Not secret; the key itself never leaves `credentials`.
    credentials_label = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.cluster} -> {self.get_kind_display()} {self.target}"

    @property
    def target(self) -> str:
        """The provider's own name of the cluster: `projects/P/locations/L/clusters/C`."""
        if self.kind == ProviderKind.GKE:
            return f"projects/{self.project}/locations/{self.location}/clusters/{self.name}"
        return f"{self.location}/{self.name}"

    def as_audited(self) -> dict[str, str]:
        """What the audit log keeps of a link: never the key."""
        return {
            "kind": self.kind,
            "target": self.target,
            "credentials": self.credentials_kind,
            "credentials_label": self.credentials_label,
        }


class ProviderDocument(models.Model):
    """A provider's cluster description uploaded on the cluster page (`gcloud container
    clusters describe --format=json`, `aws eks describe-cluster` + node groups): used by the
    cluster's collections until replaced, unless a bundle or a provider link supplies one."""

    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="provider_documents"
    )
    kind = models.CharField(max_length=10, choices=ProviderKind.choices)
    document = models.JSONField()
    file_name = models.CharField(max_length=200)
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "kind"], name="one_document_per_provider")
        ]

    def __str__(self) -> str:
        return f"{self.cluster} {self.kind} {self.file_name}"


class NodeBenchmark(models.Model):
    """One node's kube-bench results (`kube-bench run --json`) uploaded on the cluster page:
    used by the cluster's collections until replaced or removed, unless the run's bundle or
    the live cluster's kube-bench Job supplies results (clusters/kube_bench.py)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="node_benchmarks")
    node = models.CharField(max_length=253)
    results = models.JSONField()  # clusters.kube_bench.results_checked: test number -> result
    file_name = models.CharField(max_length=200)
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "node"], name="one_benchmark_per_node")
        ]
        ordering = ["node"]

    def __str__(self) -> str:
        return f"{self.cluster} kube-bench {self.node}"
