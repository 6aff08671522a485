"""Shared pieces of the alerts tests: evidence bundles with a rolling update, a real SMTP server."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller

VERSION = {"major": "1", "minor": "35", "gitVersion": "v1.35.8"}


def kubectl_list(kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": [{"kind": kind, **item} for item in items],
    }


def container(name: str, image: str, *, privileged: bool = True) -> dict[str, Any]:
    return {"name": name, "image": image, "securityContext": {"privileged": privileged}}


def write_bundle(
    directory: Path,
    *,
    pod_hash: str = "7d9f8c6b5",
    pod_suffix: str = "x2x9z",
    image: str = "nginx:1.25.3",
    sidecar: bool = False,
    with_rbac: bool = True,
    privileged: bool = True,
) -> Path:
    """One Deployment web/api (ReplicaSet api-<hash>, pod api-<hash>-<suffix>).

    A rolling update is a new hash, a new pod suffix and a new image tag; `sidecar` adds a
    second privileged container: a real change.
    """
    directory.mkdir(parents=True, exist_ok=True)
    containers = [container("api", image, privileged=privileged)]
    if sidecar:
        containers.append(container("sidecar", "busybox:1.36.1"))
    template = {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": containers}}
    replicaset = f"api-{pod_hash}"
    files: dict[str, Any] = {
        "version.json": VERSION,
        "namespaces.json": kubectl_list("Namespace", [{"metadata": {"name": "web"}}]),
        "deployments.json": kubectl_list(
            "Deployment",
            [
                {"metadata": {"name": "api", "namespace": "web"}, "spec": {"template": template}},
            ],
        ),
        "replicasets.json": kubectl_list(
            "ReplicaSet",
            [
                {
                    "metadata": {
                        "name": replicaset,
                        "namespace": "web",
                        "ownerReferences": [
                            {"kind": "Deployment", "name": "api", "controller": True}
                        ],
                    },
                    "spec": {"template": template},
                }
            ],
        ),
        "pods.json": kubectl_list(
            "Pod",
            [
                {
                    "metadata": {
                        "name": f"{replicaset}-{pod_suffix}",
                        "namespace": "web",
                        "labels": {"app": "api"},
                        "ownerReferences": [
                            {"kind": "ReplicaSet", "name": replicaset, "controller": True}
                        ],
                    },
                    "spec": {**template["spec"], "nodeName": "node-1"},  # type: ignore[dict-item]
                }
            ],
        ),
    }
    for kind in (
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "NetworkPolicy",
        "Service",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
    ):
        files.setdefault(f"{kind.lower()}s.json", kubectl_list(kind, []))
    if with_rbac:
        files["clusterrolebindings.json"] = kubectl_list(
            "ClusterRoleBinding",
            [
                {
                    "metadata": {"name": "oncall-admin"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin",
                    },
                    "subjects": [{"kind": "User", "name": "oncall@example.com"}],
                }
            ],
        )
    for stale in list(directory.iterdir()):
        stale.unlink()
    for name, body in files.items():
        (directory / name).write_bytes(orjson.dumps(body))
    return directory


def upload(cluster: Any, directory: Path) -> Any:
    """A new bundle uploaded for the cluster: a pending run that reads it."""
    from clusters.services import bundle_upload

    archive = directory.with_suffix(".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        for file in directory.iterdir():
            tar.add(file, arcname=file.name)
    with archive.open("rb") as handle:
        return bundle_upload(cluster=cluster, upload=handle, upload_name=archive.name, by=None)


@dataclass
class Inbox:
    """What a real SMTP server received: envelopes and parsed messages."""

    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[Message]:
        return [message_from_bytes(envelope.original_content) for envelope in self.envelopes]


class EphemeralPortController(Controller):
    """aiosmtpd on port 0: the OS picks a free port, read back before the readiness probe."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()


@pytest.fixture
def smtp_inbox(settings: Any) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = EphemeralPortController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()


def text_part(message: Message, subtype: str = "plain") -> str:
    for part in message.walk():
        if part.get_content_type() == f"text/{subtype}":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no text/{subtype} part")


def outbox_parts(message: Any) -> tuple[str, str]:
    """The plain text and the HTML of a message from the locmem outbox."""
    from django.core.mail import EmailMultiAlternatives

    assert isinstance(message, EmailMultiAlternatives)
    html = message.alternatives[0][0]
    assert isinstance(html, str)
    return str(message.body), html
