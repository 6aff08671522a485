"""`manage.py compliance_report`: issue a compliance report, or verify an issued file.

    compliance_report NAME --guide SLUG [--as-of DATE | --from D --to D] --output FILE
    compliance_report --fleet [--environment E] --guide SLUG ... --output FILE
    compliance_report --verify FILE

The format follows the output's extension (.pdf, .csv, .json). Every report issued here is
recorded like one built from the page, so --verify knows it. Bad input is one line on stderr
and exit status 1, never a traceback.
"""

from __future__ import annotations

import gc
import getpass
from pathlib import Path
from typing import Any

from django.core.checks import Tags
from django.core.checks.registry import registry
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters.models import Cluster
from compliance.models import Report
from compliance.reports.scope import ScopeError, parse_day, scope_build
from compliance.reports.services import FORMATS, report_issue, report_verify


class Command(BaseCommand):
    help = "Issue a compliance report (PDF, CSV or JSON) from stored verdicts, or verify one."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Usage mistakes become a CommandError too: one line, exit status 1.
        parser.called_from_command_line = False
        return parser

    def check(self, *args: Any, **kwargs: Any) -> None:
        """Every system check but the URL configuration's.

        Checking the URLconf imports every view, and with them the Kubernetes client: half a
        second of a report's start-up, for a command that serves no URL. The web process still
        runs them; the rest (settings, models, Rampart's own) run here as for any command.
        """
        urls = {check for check in registry.registered_checks if Tags.urls in check.tags}
        registry.registered_checks -= urls
        try:
            super().check(*args, **kwargs)
        finally:
            registry.registered_checks |= urls

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="the cluster (omit with --fleet)")
        parser.add_argument("--fleet", action="store_true", help="every cluster (or --environment)")
        parser.add_argument("--environment", default="", help="with --fleet: one environment")
        parser.add_argument("--guide", help="gke-hardening, cis-gke, cis-kubernetes, nsa-cisa, pss")
        parser.add_argument("--as-of", dest="as_of", metavar="DATE", help="YYYY-MM-DD (today)")
        parser.add_argument("--from", dest="start", metavar="DATE", help="the period's first day")
        parser.add_argument("--to", dest="end", metavar="DATE", help="the period's last day")
        parser.add_argument("--output", type=Path, metavar="FILE", help=".pdf, .csv or .json")
        parser.add_argument("--verify", type=Path, metavar="FILE", help="is this file Rampart's?")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verify"]:
            self._verify(options["verify"])
            return
        try:
            scope, output, fmt = self._request(options)
            report, content = report_issue(
                scope=scope, format=fmt, by_name=f"{getpass.getuser()} (command line)"
            )
        except ScopeError as exc:
            raise CommandError(str(exc)) from None
        try:
            output.write_bytes(content)
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        pages = f", {report.pages} pages" if report.pages else ""
        self.stdout.write(
            f"Wrote {output} ({len(content):,} bytes{pages}): report #{report.pk}, "
            f"{report.guide} on {report.scope_label}, {report.period_label}; "
            f"file sha256 {report.file_sha256}"
        )
        if getattr(self, "_called_from_command_line", False):
            # The process exits next, and the interpreter's last collection would walk every
            # live object (Django's, WeasyPrint's, the report's): ~0.5 s of waiting for nothing.
            # Frozen objects are skipped. Not under call_command, whose caller lives on.
            gc.freeze()

    def _request(self, options: dict[str, Any]) -> tuple[Any, Path, str]:
        name, fleet = options["name"], options["fleet"]
        if fleet == bool(name):
            raise ScopeError("name one cluster or give --fleet (not both)")
        if options["environment"] and not fleet:
            raise ScopeError("--environment selects clusters of a --fleet report")
        if not options["guide"]:
            raise ScopeError("--guide is required")
        output = options["output"]
        if output is None:
            raise ScopeError("--output FILE is required (.pdf, .csv or .json)")
        fmt = output.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise ScopeError(f"{output}: the extension must be .pdf, .csv or .json")
        if not output.parent.is_dir():
            raise ScopeError(f"{output.parent} is not a directory")
        cluster = None
        if name:
            cluster = Cluster.objects.filter(name=name).first()
            if cluster is None:
                raise ScopeError(f"no cluster named {name!r}")
        environment = options["environment"]
        if environment and not Cluster.objects.filter(environment=environment).exists():
            raise ScopeError(f"no cluster is in environment {environment!r}")
        scope = scope_build(
            guide=options["guide"],
            cluster=cluster,
            environment=environment,
            as_of=parse_day(options["as_of"], what="--as-of") if options["as_of"] else None,
            start=parse_day(options["start"], what="--from") if options["start"] else None,
            end=parse_day(options["end"], what="--to") if options["end"] else None,
        )
        return scope, output, fmt

    def _verify(self, path: Path) -> None:
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        report = report_verify(content=content)
        if report is None:
            raise CommandError(
                f"{path} was NOT issued by this Rampart: no report has exactly these bytes"
            )
        self.stdout.write(self._describe(report, path))

    @staticmethod
    def _describe(report: Report, path: Path) -> str:
        return (
            f"{path} was issued by Rampart: report #{report.pk}, {report.guide} on "
            f"{report.scope_label}, {report.period_label}, {report.format.upper()}, generated "
            f"by {report.generated_by_name} at {report.created_at:%Y-%m-%d %H:%M:%S %Z}; "
            f"file sha256 {report.file_sha256}, content sha256 {report.content_sha256}"
        )
