from __future__ import annotations

from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters.models import Cluster
from posture.export import posture_document


class Command(BaseCommand):
    help = "Print a cluster's latest completed posture (every affected object, never truncated)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--format", choices=["json", "text"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cluster = Cluster.objects.select_related("latest_evaluation__run").get(
                name=options["name"]
            )
        except Cluster.DoesNotExist as exc:
            raise CommandError(f"no cluster named {options['name']!r}") from exc
        document = posture_document(cluster)
        if options["format"] == "json":
            self.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
            return
        if document["collection"] is None:
            raise CommandError(f"{cluster.name} has no completed collection yet")
        self.stdout.write(
            f"{cluster.name}: score {document['score']}, coverage {document['coverage']}% "
            f"(Kubernetes {document['kubernetes_version']}, "
            f"collection {document['collection']['id']})"
        )
        for check in document["checks"]:
            if check["status"] in ("pass", "not_applicable"):
                continue
            self.stdout.write(
                f"  [{check['status']:7}] {check['severity']:8} {check['id']}: {check['title']}"
            )
            for item in check["affected"]:
                where = f"{item['namespace']}/" if item["namespace"] else ""
                self.stdout.write(f"      {item['kind']} {where}{item['name']}: {item['detail']}")
