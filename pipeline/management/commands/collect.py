from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters.models import Cluster, CollectionRun
from clusters.services import CollectionAlreadyActive, RegistrationError, collection_request
from pipeline.collection import collection_execute


class Command(BaseCommand):
    help = "Collect a cluster now: through the worker, or in this process with --sync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--sync", action="store_true", help="collect in this process and print progress"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cluster = Cluster.objects.get(name=options["name"])
        except Cluster.DoesNotExist as exc:
            raise CommandError(f"no cluster named {options['name']!r}") from exc
        sync = options["sync"]
        try:
            run = collection_request(
                cluster=cluster, trigger=CollectionRun.Trigger.COMMAND, enqueue=not sync
            )
        except CollectionAlreadyActive as exc:
            if not (sync and exc.run.status == CollectionRun.Status.PENDING):
                raise CommandError(str(exc)) from exc
            run = exc.run  # collect the queued run here; the worker's claim will then find it taken
        except RegistrationError as exc:
            raise CommandError(str(exc)) from exc
        if not sync:
            self.stdout.write(f"Queued collection {run.pk} of {cluster.name}.")
            return
        self.stdout.write(f"Collecting {cluster.name} (run {run.pk})...")
        finished = collection_execute(
            run_id=run.pk,
            echo=lambda message: self.stdout.write(f"  {message}"),
            send_alerts_inline=True,
        )
        if finished is None:
            raise CommandError(f"run {run.pk} was claimed by a worker; watch it in the dashboard")
        if finished.status == CollectionRun.Status.FAILED:
            raise CommandError(f"collection failed: {finished.last_error}")
        evaluation = getattr(finished, "evaluation", None)
        self.stdout.write(
            self.style.SUCCESS(
                f"{finished.get_status_display()}: "
                f"{sum(finished.object_counts.values())} objects in "
                f"{finished.fetch_seconds:.2f}s, evaluated in {finished.evaluate_seconds:.2f}s; "
                f"score {_fmt(evaluation.score if evaluation else None)}, "
                f"coverage {_fmt(evaluation.coverage if evaluation else None)}%"
            )
        )
        if finished.status == CollectionRun.Status.PARTIAL:
            self.stdout.write(self.style.WARNING(f"Incomplete: {finished.last_error}"))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"
