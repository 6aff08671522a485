from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters.kubeconfig import MAX_KUBECONFIG_BYTES, KubeconfigError, decode_kubeconfig
from clusters.models import Cluster
from clusters.services import RegistrationError, cluster_register


class Command(BaseCommand):
    help = (
        "Register a cluster from a kubeconfig, the in-cluster service account "
        "or an evidence bundle."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="lowercase letters, digits and dashes")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--kubeconfig", type=Path, help="kubeconfig file (token or client certificate inline)"
        )
        source.add_argument(
            "--bundle", type=Path, help="evidence bundle: directory, .tar.gz or .zip"
        )
        source.add_argument(
            "--in-cluster", action="store_true", help="use this pod's service account"
        )
        parser.add_argument("--context", help="kubeconfig context (default: current-context)")
        parser.add_argument("--environment", default="", help="e.g. production, staging")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--owner",
            action="append",
            default=[],
            metavar="EMAIL",
            help="receives this cluster's regressions; repeatable",
        )
        parser.add_argument(
            "--no-collect", action="store_true", help="do not request a first collection"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kubeconfig_text = None
        if options["kubeconfig"]:
            kubeconfig_text = _read_kubeconfig(options["kubeconfig"])
            source_kind = Cluster.SourceKind.KUBECONFIG
        elif options["bundle"]:
            source_kind = Cluster.SourceKind.BUNDLE
        else:
            source_kind = Cluster.SourceKind.IN_CLUSTER
        try:
            cluster = cluster_register(
                name=options["name"],
                source_kind=source_kind,
                kubeconfig=kubeconfig_text,
                context=options["context"],
                bundle_path=options["bundle"],
                environment=options["environment"],
                description=options["description"],
                owners=options["owner"],
                collect=not options["no_collect"],
            )
        except RegistrationError as exc:
            raise CommandError(str(exc)) from exc
        where = f" ({cluster.api_server})" if cluster.api_server else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {cluster.name}{where} from {cluster.get_source_kind_display()}."
            )
        )
        if not options["no_collect"]:
            self.stdout.write(
                "A first collection is queued; run `manage.py collect NAME --sync` to collect now."
            )


def _read_kubeconfig(path: Path) -> str:
    """The file's text, with the web form's size limit and encoding rules."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KUBECONFIG_BYTES + 1)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = decode_kubeconfig(data)
    except KubeconfigError as exc:
        raise CommandError(f"{path}: {exc}") from None
    if not text.strip():
        raise CommandError(f"{path}: the kubeconfig is empty")
    return text
