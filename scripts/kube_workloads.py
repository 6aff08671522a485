"""Workload controllers' objects on top of `kube_pods.PodBuilder`.

Built the way controllers build them: a Deployment owns a ReplicaSet named
`<deployment>-<pod-template-hash>` which owns the pods; DaemonSet pods run one per node; a
StatefulSet's pods are `<name>-<ordinal>`; a CronJob owns Jobs named by their scheduled minute,
which own their pods.
"""

from __future__ import annotations

import copy
from datetime import datetime

from kube_objects import JSON, suffix
from kube_pods import PodBuilder


class WorkloadBuilder(PodBuilder):
    # -- controllers ------------------------------------------------------------------------
    def deployment(
        self,
        namespace: str,
        name: str,
        template: JSON,
        *,
        replicas: int = 1,
        labels: JSON | None = None,
        revision: int = 1,
        apply: bool = True,
        created: str | None = None,
    ) -> JSON:
        created = created or self.stamp("deployment", namespace, name)
        selector = dict(template["metadata"]["labels"])
        ready = {"readyReplicas": replicas, "availableReplicas": replicas} if replicas else {}
        deployment = self.add(
            "deployments",
            {
                "metadata": self.meta(
                    "deployments",
                    name,
                    namespace,
                    labels=labels or selector,
                    annotations={"deployment.kubernetes.io/revision": str(revision)},
                    created=created,
                    generation=revision + (1 if not replicas else 0),
                ),
                "spec": {
                    "progressDeadlineSeconds": 600,
                    "replicas": replicas,
                    "revisionHistoryLimit": 3,
                    "selector": {"matchLabels": selector},
                    "strategy": {
                        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                        "type": "RollingUpdate",
                    },
                    "template": template,
                },
                "status": {
                    "conditions": [
                        {
                            "lastTransitionTime": created,
                            "lastUpdateTime": created,
                            "message": f'ReplicaSet "{name}" has successfully progressed.',
                            "reason": "NewReplicaSetAvailable",
                            "status": "True",
                            "type": "Progressing",
                        }
                    ],
                    "observedGeneration": revision + (1 if not replicas else 0),
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    **ready,
                },
            },
        )
        if apply:
            self.applied(deployment)
        self.manage(
            deployment,
            "kube-controller-manager",
            fields={"metadata": {"annotations": {}}, "status": {"replicas": {}}},
            subresource="status",
        )
        rs_created = (
            created if revision == 1 else self.stamp("rollout", namespace, name, days=(30, 3))
        )
        span = self._epoch(rs_created) - self._epoch(created)
        for old in range(max(1, revision - 3), revision):  # revisionHistoryLimit
            old_created = created if old == 1 else self.later(created, int(span * old / revision))
            self._replica_set(deployment, old, 0, old_created)
        rs, pod_template = self._replica_set(deployment, revision, replicas, rs_created)
        for i, node in enumerate(self._spread(f"{namespace}/{name}", replicas)):
            pod_name = f"{rs['metadata']['name']}-{suffix(5, 'pod', namespace, name, i)}"
            pod_created = max(self.later(rs_created, 5 + 2 * i), self.stamp(pod_name, days=(25, 1)))
            self.pod(namespace, pod_name, pod_template, node=node, owner=rs, created=pod_created)
        return deployment

    def _replica_set(
        self, deployment: JSON, revision: int, replicas: int, created: str
    ) -> tuple[JSON, JSON]:
        namespace = deployment["metadata"]["namespace"]
        name = deployment["metadata"]["name"]
        pod_hash = suffix(10, "rs", namespace, name, revision)
        template = copy.deepcopy(deployment["spec"]["template"])
        template["metadata"]["labels"]["pod-template-hash"] = pod_hash
        selector = {**deployment["spec"]["selector"]["matchLabels"], "pod-template-hash": pod_hash}
        ready = {"readyReplicas": replicas, "availableReplicas": replicas} if replicas else {}
        max_replicas = deployment["spec"]["replicas"] + 1
        rs = self.add(
            "replicasets",
            {
                "metadata": self.meta(
                    "replicasets",
                    f"{name}-{pod_hash}",
                    namespace,
                    labels=template["metadata"]["labels"],
                    annotations={
                        "deployment.kubernetes.io/desired-replicas": str(
                            deployment["spec"]["replicas"]
                        ),
                        "deployment.kubernetes.io/max-replicas": str(max_replicas),
                        "deployment.kubernetes.io/revision": str(revision),
                    },
                    owner=deployment,
                    created=created,
                    generation=1 if replicas else 2,
                ),
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": selector},
                    "template": template,
                },
                "status": {
                    "fullyLabeledReplicas": replicas,
                    "observedGeneration": 1 if replicas else 2,
                    "replicas": replicas,
                    **ready,
                },
            },
        )
        return rs, template

    def daemonset(
        self, namespace: str, name: str, template: JSON, *, everywhere: bool = True
    ) -> JSON:
        nodes = self._spread("", len(self.nodes), everywhere=everywhere)
        nodes = sorted(set(nodes))
        count = len(nodes)
        created = self.stamp("daemonset", namespace, name)
        revision_hash = suffix(10, "ds", namespace, name)
        ds = self.add(
            "daemonsets",
            {
                "metadata": self.meta(
                    "daemonsets",
                    name,
                    namespace,
                    labels=template["metadata"]["labels"],
                    annotations={"deprecated.daemonset.template.generation": "1"},
                    created=created,
                    generation=1,
                ),
                "spec": {
                    "revisionHistoryLimit": 10,
                    "selector": {"matchLabels": dict(template["metadata"]["labels"])},
                    "template": template,
                    "updateStrategy": {
                        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
                        "type": "RollingUpdate",
                    },
                },
                "status": {
                    "currentNumberScheduled": count,
                    "desiredNumberScheduled": count,
                    "numberAvailable": count,
                    "numberMisscheduled": 0,
                    "numberReady": count,
                    "observedGeneration": 1,
                    "updatedNumberScheduled": count,
                },
            },
        )
        self.applied(ds)
        for node in nodes:
            self.pod(
                namespace,
                f"{name}-{suffix(5, 'dspod', namespace, name, node)}",
                template,
                node=node,
                owner=ds,
                labels={"controller-revision-hash": revision_hash, "pod-template-generation": "1"},
                daemon=True,
            )
        return ds

    def statefulset(
        self, namespace: str, name: str, template: JSON, *, replicas: int, service: str
    ) -> JSON:
        revision = f"{name}-{suffix(10, 'sts', namespace, name)}"
        sts = self.add(
            "statefulsets",
            {
                "metadata": self.meta(
                    "statefulsets",
                    name,
                    namespace,
                    labels=template["metadata"]["labels"],
                    generation=1,
                ),
                "spec": {
                    "persistentVolumeClaimRetentionPolicy": {
                        "whenDeleted": "Retain",
                        "whenScaled": "Retain",
                    },
                    "podManagementPolicy": "OrderedReady",
                    "replicas": replicas,
                    "revisionHistoryLimit": 10,
                    "selector": {"matchLabels": dict(template["metadata"]["labels"])},
                    "serviceName": service,
                    "template": template,
                    "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
                },
                "status": {
                    "availableReplicas": replicas,
                    "collisionCount": 0,
                    "currentReplicas": replicas,
                    "currentRevision": revision,
                    "observedGeneration": 1,
                    "readyReplicas": replicas,
                    "replicas": replicas,
                    "updateRevision": revision,
                    "updatedReplicas": replicas,
                },
            },
        )
        self.applied(sts)
        for i, node in enumerate(self._spread(f"{namespace}/{name}", replicas)):
            self.pod(
                namespace,
                f"{name}-{i}",
                template,
                node=node,
                owner=sts,
                labels={
                    "apps.kubernetes.io/pod-index": str(i),
                    "controller-revision-hash": revision,
                    "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                },
            )
        return sts

    def cronjob(self, namespace: str, name: str, template: JSON, *, schedule: str, last_run: str):
        """A CronJob between runs: its last Job finished and that Job's pod completed."""
        template = copy.deepcopy(template)
        template["spec"]["restartPolicy"] = template["spec"].get("restartPolicy", "OnFailure")
        if template["spec"]["restartPolicy"] == "Always":
            template["spec"]["restartPolicy"] = "OnFailure"
        cron = self.add(
            "cronjobs",
            {
                "metadata": self.meta(
                    "cronjobs", name, namespace, labels=template["metadata"]["labels"], generation=1
                ),
                "spec": {
                    "concurrencyPolicy": "Forbid",
                    "failedJobsHistoryLimit": 1,
                    "jobTemplate": {
                        "metadata": {"creationTimestamp": None},
                        "spec": {"backoffLimit": 2, "template": template},
                    },
                    "schedule": schedule,
                    "successfulJobsHistoryLimit": 1,
                    "suspend": False,
                },
                "status": {
                    "lastScheduleTime": last_run,
                    "lastSuccessfulTime": self.later(last_run, 97),
                },
            },
        )
        self.applied(cron)
        minute = int(self._epoch(last_run) // 60)
        job_name = f"{name}-{minute}"
        job_uid = self.uid("jobs", namespace, job_name)
        job_labels = {
            "batch.kubernetes.io/controller-uid": job_uid,
            "batch.kubernetes.io/job-name": job_name,
            "controller-uid": job_uid,
            "job-name": job_name,
        }
        job_template = copy.deepcopy(template)
        job_template["metadata"]["labels"] = {**template["metadata"]["labels"], **job_labels}
        job = self.add(
            "jobs",
            {
                "metadata": self.meta(
                    "jobs",
                    job_name,
                    namespace,
                    labels=job_template["metadata"]["labels"],
                    owner=cron,
                    created=last_run,
                    generation=1,
                ),
                "spec": {
                    "backoffLimit": 2,
                    "completionMode": "NonIndexed",
                    "completions": 1,
                    "manualSelector": False,
                    "parallelism": 1,
                    "podReplacementPolicy": "TerminatingOrFailed",
                    "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": job_uid}},
                    "suspend": False,
                    "template": job_template,
                },
                "status": {
                    "completionTime": self.later(last_run, 96),
                    "conditions": [
                        {
                            "lastProbeTime": self.later(last_run, 96),
                            "lastTransitionTime": self.later(last_run, 96),
                            "status": "True",
                            "type": kind,
                        }
                        for kind in ("SuccessCriteriaMet", "Complete")
                    ],
                    "ready": 0,
                    "startTime": last_run,
                    "succeeded": 1,
                    "terminating": 0,
                    "uncountedTerminatedPods": {},
                },
            },
        )
        node = self._spread(f"{namespace}/{name}", 1)[0]
        self.pod(
            namespace,
            f"{job_name}-{suffix(5, 'jobpod', job_name)}",
            job_template,
            node=node,
            owner=job,
            created=self.later(last_run, 1),
            phase="Succeeded",
        )
        return cron

    @staticmethod
    def _epoch(stamp: str) -> float:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
