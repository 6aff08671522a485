"""Demo history: months of believable, back-dated collections for the demo clusters.

Each demo cluster has a story: episodes that were true of it for a stretch of the past (a
privileged debug pod, Kubernetes 1.34 before the upgrade, the Deployment's previous
ReplicaSet before a rollout, ...). Every back-dated collection evaluates the cluster's real
inventory, read from its evidence bundle, with the episodes of its day applied, through the
same `pipeline.collection.inventory_record` a collection uses and in time order, so findings
open, resolve and reopen, and daily rollups fill, exactly as real collections would have left
them.

Episodes sit at fractions of the history's length (1.0 its first day, 0.0 today), so a
short history tells the same story compressed. Every episode has ended by the last day of
history, which is therefore the bundle's own inventory: the bundle's real collection, which
comes after, changes nothing, so the posture shown today is exactly the bundle's and its
collection finds no regression to email about.

Nothing here alerts: regression emails belong to collections as they happen
(pipeline.collection.collection_execute); a story of the past is not news.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from accounts.roles import ADMIN, SECURITY_ENGINEER, roles_sync
from clusters.collection import finished_run_fields
from clusters.inventory import Inventory
from clusters.models import Cluster, CollectionRun
from compliance.services import waiver_approve, waiver_request
from pipeline.collection import inventory_record
from pipeline.demo_edits import inventory_copy
from pipeline.demo_stories import STORIES, Story, story_day

DEFAULT_DAYS = 90
# Collections in the last week come four times a day, as a live cluster's schedule would; older
# days keep one each, which is what a trend plots per day anyway and keeps loading quick.
DENSE_DAYS = 7
DENSE_SLOTS = (clock(0, 30), clock(6, 30), clock(12, 30), clock(18, 30))
DAILY_SLOT = clock(6, 0)


class DemoHistorySkipped(Exception):
    """The cluster already has history of its own; the message says why nothing was added."""


@dataclass
class DemoHistory:
    """What `demo_history_create` wrote for one cluster."""

    cluster: str
    collections: int = 0
    variants: int = 0
    first_day: date | None = None
    versions: list[str] = field(default_factory=list)
    waivers: int = 0
    seconds: float = 0.0


# --- Writing the history ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Collection:
    at: datetime
    age: int  # whole days before today


def _schedule(*, days: int, today: date, seed: str) -> list[_Collection]:
    """When the back-dated collections ran: daily, then four a day over the last week."""
    jitter = int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 20  # minutes, per cluster
    collections = []
    for age in range(days, 0, -1):
        day = today - timedelta(days=age)
        slots = DENSE_SLOTS if age <= DENSE_DAYS else (DAILY_SLOT,)
        for slot in slots:
            at = timezone.make_aware(datetime.combine(day, slot)) + timedelta(minutes=jitter)
            collections.append(_Collection(at=at, age=age))
    return collections


def _at(*, today: date, age: int, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(today - timedelta(days=age), clock(hour)))


def demo_variant(*, story: Story, inventory: Inventory, age: int, days: int) -> Inventory:
    """The bundle's inventory as it was `age` days before today, in a `days`-long history."""
    variant = inventory_copy(inventory)
    for episode in story.episodes:
        if episode.active(age=age, days=days):
            episode.edit(variant)
    return variant


def _demo_people() -> tuple[User, User]:
    """The demo waiver's requester and approver: two people, as four eyes require."""
    roles_sync()
    people = []
    for username, role in (("demo-engineer", SECURITY_ENGINEER), ("demo-approver", ADMIN)):
        user = User.objects.filter(username=username).first()
        if user is None:
            # Not accounts.services.user_create: that gives every user a password (hashing one
            # costs a second of the load), and these are names on the demo's audit trail that
            # nobody may sign in as, so their password is unusable.
            user = User.objects.create_user(
                username=username, email=f"{username}@example.com", password=None
            )
            user.groups.add(Group.objects.get(name=role))
        people.append(user)
    return people[0], people[1]


def _run_create(
    *, cluster: Cluster, variant: Inventory, at: datetime, build_seconds: float
) -> CollectionRun:
    """A scheduled run as a collection would have claimed it (inventory_record finishes it)."""
    return CollectionRun.objects.create(
        cluster=cluster,
        trigger=CollectionRun.Trigger.SCHEDULE,
        created_at=at,
        started_at=at,
        finished_at=at + timedelta(seconds=2),
        fetch_seconds=round(build_seconds, 3),
        **finished_run_fields(variant),
    )


def _history_check(cluster: Cluster) -> None:
    runs = list(cluster.runs.values_list("status", flat=True))
    if len(runs) > 1:
        raise DemoHistorySkipped(f"{cluster} already has history ({len(runs)} collections)")
    if runs and runs[0] != CollectionRun.Status.PENDING:
        # Its findings were opened by that collection: history placed before it would show
        # them first seen after months of trend. Start over instead.
        raise DemoHistorySkipped(
            f"{cluster} was collected before demo history existed; delete the cluster and run "
            "load_demo again to give it history"
        )


@transaction.atomic
def demo_history_create(
    *,
    cluster: Cluster,
    inventory: Inventory,
    days: int = DEFAULT_DAYS,
    story: Story | None = None,
    now: datetime | None = None,
) -> DemoHistory:
    """Back-dated collections of `inventory` over the `days` before today, oldest first.

    For a cluster with no collection yet, or only the pending one its registration requested;
    raises DemoHistorySkipped otherwise. Call in the transaction that registered the cluster,
    so a worker collects the bundle only after its history exists (the pending run is locked
    until then). The cluster's own latest run stays its latest; its latest evaluation is the
    newest of the history until that run finishes. The fleet's daily rows span every cluster:
    refresh them (posture.rollups.fleet_days_refresh) once all clusters have their history.
    """
    started = time.perf_counter()
    # Held to the end of the transaction: a worker claiming the registration's run waits.
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    list(cluster.runs.select_for_update().values_list("pk", flat=True))
    _history_check(cluster)
    story = story or STORIES.get(cluster.name, Story(episodes=()))
    now = now or timezone.now()
    today = timezone.localdate(now)
    result = DemoHistory(cluster=cluster.name)
    collections = _schedule(days=days, today=today, seed=cluster.name)
    events: list[tuple[datetime, str]] = [(c.at, "collection") for c in collections]
    waiver_story = story.waiver
    if waiver_story and collections:
        # Within the longest waiver allowed, however long the history.
        longest = settings.RAMPART_WAIVER_MAX_DAYS - waiver_story.expires_in.days - 1
        approved_age = min(story_day(waiver_story.approved, days), longest)
        events.append((_at(today=today, age=approved_age + 1, hour=15), "waiver request"))
        events.append((_at(today=today, age=approved_age, hour=10), "waiver approval"))
    variants: dict[tuple[str, ...], Inventory] = {}
    by_time = {c.at: c for c in collections}
    waiver = None
    for at, event in sorted(events):
        if event == "waiver request" and waiver_story:
            engineer, _ = _demo_people()
            waiver = waiver_request(
                cluster=cluster,
                check_id=waiver_story.check_id,
                by=engineer,
                owner_email=cluster.owners.values_list("email", flat=True).first()
                or "security@example.com",
                reason=waiver_story.reason,
                expires_at=timezone.make_aware(
                    datetime.combine(today + waiver_story.expires_in, clock(10))
                ),
                workloads=list(waiver_story.workloads),
                now=at,
            )
            continue
        if event == "waiver approval" and waiver is not None:
            _, approver = _demo_people()
            # Re-derives the newest evaluation of the history as of `at`, as an approval then would.
            waiver_approve(waiver=waiver, by=approver, now=at)
            result.waivers += 1
            continue
        collection = by_time[at]
        building = time.perf_counter()
        key = tuple(e.name for e in story.episodes if e.active(age=collection.age, days=days))
        variant = variants.get(key)
        if variant is None:
            # Each distinct variant is built and indexed once; evaluating reuses it.
            variant = variants[key] = demo_variant(
                story=story, inventory=inventory, age=collection.age, days=days
            )
        run = _run_create(
            cluster=cluster,
            variant=variant,
            at=at,
            build_seconds=time.perf_counter() - building,
        )
        inventory_record(
            run=run,
            inventory=variant,
            fetch_seconds=time.perf_counter() - building,
            created_at=at,
        )
        result.collections += 1
        if run.kubernetes_version and run.kubernetes_version not in result.versions:
            result.versions.append(run.kubernetes_version)
    # The registration's pending run, when there is one, is still the newest.
    Cluster.objects.filter(pk=cluster.pk).update(latest_run=cluster.runs.first())
    if collections:
        result.first_day = timezone.localdate(collections[0].at)
    result.variants = len(variants)
    result.seconds = time.perf_counter() - started
    return result
