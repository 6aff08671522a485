"""A privileged crypto-miner pod appears on a live cluster: one email naming the workload.

It used to send three (the miner check, privileged containers, Pod Security baseline). The
cluster is the payments-prod demo bundle served by the fake API server over real HTTP.
"""

from __future__ import annotations

from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest

from alerts.models import Notification
from alerts.tests.conftest import Inbox, text_part
from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_register, collection_request
from clusters.tests.fakeapi import FakeApiServer
from pipeline.collection import collection_execute

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "bundles"
MINER = {
    "metadata": {"name": "kworker-cache", "namespace": "analytics", "uid": "miner-1"},
    "spec": {
        "nodeName": "gke-payments-prod-pool-a-1",
        "containers": [
            {
                "name": "cache",
                "image": "docker123321/mysql",
                "args": ["-o", "stratum+tcp://pool.minexmr.com:4444", "--donate-level=1"],
                "securityContext": {"privileged": True},
            }
        ],
    },
    "status": {"phase": "Running"},
}


def collect(cluster: Cluster) -> CollectionRun:
    run = collection_request(cluster=cluster, trigger=CollectionRun.Trigger.MANUAL, enqueue=False)
    finished = collection_execute(run_id=run.pk, send_alerts_inline=True)
    assert finished is not None and finished.status != CollectionRun.Status.FAILED, (
        finished and finished.last_error
    )
    return finished


def test_it_sends_one_email_naming_the_miner_pod(smtp_inbox: Inbox, settings: Any) -> None:
    settings.SITE_URL = "https://rampart.example.com"
    with FakeApiServer.from_bundle(DEMO / "payments-prod") as server:
        cluster = cluster_register(
            name="payments",
            source_kind=Cluster.SourceKind.KUBECONFIG,
            kubeconfig=server.kubeconfig(),
            owners=["owner@example.com"],
            collect=False,
        )
        collect(cluster)  # the baseline
        assert smtp_inbox.envelopes == []

        server.put("pods", MINER)
        collect(cluster)
        collect(cluster)  # still there: nothing new to say

    [envelope] = smtp_inbox.envelopes
    assert envelope.rcpt_tos == ["owner@example.com"]
    [message] = smtp_inbox.messages
    subject = str(make_header(decode_header(message["Subject"])))
    assert subject.startswith("[Rampart] payments: ")
    assert "1 critical" in subject
    body = text_part(message)
    checks = {block["check_id"] for block in Notification.objects.get().payload["findings"]}
    assert {"supply_chain.miner_images", "isolation.privileged", "pss.baseline"} <= checks
    # Every check it fails names the pod, the workload that owns the problem.
    assert body.count("  - Pod analytics/kworker-cache: ") == len(checks)
    assert (
        "[CRITICAL] Workloads that look like crypto-miners (supply_chain.miner_images): 1 new"
    ) in body
    assert "https://rampart.example.com/clusters/payments/checks/isolation.privileged/" in body
    assert "kworker-cache" in text_part(message, "html")
