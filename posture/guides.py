"""Hardening guides as data: `posture/guides/<slug>.yaml`, loaded into Guide/Section/Item.

(The YAML folder has no `__init__.py`, so `import posture.guides` finds this module.)

An item is judged by its explicit `checks` plus every check whose
`Reference(guide=<slug>, id=<item id or alias>, version=<guide version or empty>)` names it, so
a check module that cites a guide id lands on the checklist without touching the data. An
explicit entry may name one control of a check, `check.id/control` (`pss.baseline/sysctls`):
the item is then judged by that control alone, never by the check's aggregate verdict, which
may fail for another control's reason. A guide with `join_references: false` is judged only by
its explicit entries (the Pod Security Standards: each item is exactly one upstream control).
Items no check judges are `manual` (they await an attestation), `provider_owned` on a
distribution (not applicable there, with the reason), or `not_applicable` everywhere
(superseded).

Structural mistakes in a file raise GuideError when it loads. Explicit check ids that the
catalog does not define are reported by `problems()`, which the test suite asserts is empty:
at run time such an id only shows as "not evaluated".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from clusters.distribution import LABELS, MANAGED, from_version
from posture.checks.base import REGISTRY, Check

if TYPE_CHECKING:
    from clusters.models import CollectionRun

GUIDES_DIR = Path(__file__).resolve().parent / "guides"
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
EVIDENCE_CLASSES = frozenset({"K8S", "K8S-PRIV", "GKE", "GCP-OTHER", "NODE", "PROBE", "MANUAL"})
# The managed control planes a guide item may be owned by or apply to (clusters.distribution).
DISTRIBUTIONS = {name: LABELS[name] for name in MANAGED}
# Items whose evidence is a provider's API describe that provider's settings: elsewhere they
# do not apply. hardening.md §0.1.
PROVIDER_EVIDENCE = {"GKE": "gke", "GCP-OTHER": "gke"}
_ITEM_KEYS = {
    "id",
    "title",
    "evidence",
    "checks",
    "manual",
    "aliases",
    "provider_owned",
    "not_applicable",
    "applies_to",
    "note",
}


class GuideError(ValueError):
    """A guide file that does not follow the schema above."""


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    section: str
    evidence: str
    checks: tuple[str, ...] = ()  # explicit + joined by references, in catalog order
    explicit_checks: tuple[str, ...] = ()
    manual: bool = False  # attestable while no check can judge it
    aliases: tuple[str, ...] = ()
    provider_owned: Mapping[str, str] = field(default_factory=dict)
    not_applicable: str = ""
    applies_to: tuple[str, ...] = ()
    note: str = ""

    def match_keys(self) -> set[str]:
        return {self.id.lower(), *(alias.lower() for alias in self.aliases)}

    def not_applicable_reason(self, guide: Guide, distribution: str) -> str:
        """Why this item does not apply to a cluster of `distribution` ("" = unknown)."""
        if self.not_applicable:
            return self.not_applicable
        if distribution in self.provider_owned:
            label = DISTRIBUTIONS.get(distribution, distribution)
            return f"Provider responsibility ({label}): {self.provider_owned[distribution]}"
        required = self.applies_to or guide.applies_to
        if not required and self.evidence in PROVIDER_EVIDENCE:
            required = (PROVIDER_EVIDENCE[self.evidence],)
        if required and distribution and distribution not in required:
            labels = ", ".join(DISTRIBUTIONS.get(name, name) for name in required)
            return f"Applies to {labels} clusters only; this cluster is not a {labels} build."
        return ""


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Guide:
    slug: str
    title: str
    version: str
    source: str
    sections: tuple[Section, ...]
    applies_to: tuple[str, ...] = ()
    join_references: bool = True
    scope: str = ""  # what of the guide Rampart judges, and from which evidence

    @property
    def label(self) -> str:
        """The guide as a person names it: its title and edition."""
        return f"{self.title} {self.version}" if self.version != "latest" else self.title

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    def item(self, item_id: str) -> Item | None:
        return next((item for item in self.items if item.id == item_id), None)

    def __reduce__(self) -> str | tuple[Any, ...]:
        """A loaded guide pickles as its slug (cached checklists hold their guide)."""
        if guides().get(self.slug) is self:
            return (_loaded_guide, (self.slug,))
        return super().__reduce__()


def _loaded_guide(slug: str) -> Guide:
    return guides()[slug]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise GuideError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _distributions(value: Any, where: str) -> tuple[str, ...]:
    names = _strings(value, where)
    unknown = [name for name in names if name not in DISTRIBUTIONS]
    if unknown:
        raise GuideError(f"{where}: unknown distribution(s) {unknown}")
    return names


def _item(raw: Any, section: str, where: str) -> Item:
    if not isinstance(raw, dict):
        raise GuideError(f"{where}: an item must be a mapping")
    extra = set(raw) - _ITEM_KEYS
    if extra:
        raise GuideError(f"{where}: unknown keys {sorted(extra)}")
    item_id, title = str(raw.get("id") or ""), str(raw.get("title") or "")
    if not item_id or not title:
        raise GuideError(f"{where}: id and title are required")
    if "/" in item_id:
        raise GuideError(f"{where}: item id {item_id!r} may not contain '/'")
    evidence = raw.get("evidence", "")
    if evidence not in EVIDENCE_CLASSES:
        raise GuideError(f"{where} {item_id}: evidence must be one of {sorted(EVIDENCE_CLASSES)}")
    owned = raw.get("provider_owned") or {}
    if not isinstance(owned, dict) or not all(isinstance(v, str) and v for v in owned.values()):
        raise GuideError(f"{where} {item_id}: provider_owned maps a distribution to a reason")
    _distributions(list(owned), f"{where} {item_id} provider_owned")
    explicit = _strings(raw.get("checks"), f"{where} {item_id} checks")
    return Item(
        id=item_id,
        title=title,
        section=section,
        evidence=evidence,
        checks=explicit,
        explicit_checks=explicit,
        manual=bool(raw.get("manual", False)),
        aliases=_strings(raw.get("aliases"), f"{where} {item_id} aliases"),
        provider_owned={key: " ".join(value.split()) for key, value in owned.items()},
        not_applicable=" ".join(str(raw.get("not_applicable") or "").split()),
        applies_to=_distributions(raw.get("applies_to"), f"{where} {item_id} applies_to"),
        note=str(raw.get("note") or ""),
    )


def guide_parse(document: Any, *, where: str) -> Guide:
    """A Guide from one file's parsed YAML; no checks joined yet."""
    if not isinstance(document, dict):
        raise GuideError(f"{where}: a guide file is a mapping")
    for key in ("slug", "title", "version", "sections"):
        if not document.get(key):
            raise GuideError(f"{where}: {key} is required")
    sections = []
    seen: set[str] = set()
    for raw_section in document["sections"]:
        if not isinstance(raw_section, dict) or not raw_section.get("id"):
            raise GuideError(f"{where}: every section needs an id")
        section_id = str(raw_section["id"])
        items = tuple(
            _item(raw, section_id, f"{where} section {section_id}")
            for raw in raw_section.get("items") or []
        )
        for item in items:
            if item.id in seen:
                raise GuideError(f"{where}: duplicate item id {item.id}")
            seen.add(item.id)
        sections.append(Section(section_id, str(raw_section.get("title") or section_id), items))
    return Guide(
        slug=str(document["slug"]),
        title=str(document["title"]),
        version=str(document["version"]),
        source=str(document.get("source") or ""),
        sections=tuple(sections),
        applies_to=_distributions(document.get("applies_to"), f"{where} applies_to"),
        join_references=bool(document.get("join_references", True)),
        scope=" ".join(str(document.get("scope") or "").split()),
    )


def guide_join(guide: Guide, checks: Iterable[Check]) -> Guide:
    """The guide with every check that cites one of its items added to that item."""
    joined: dict[str, list[str]] = {item.id: list(item.explicit_checks) for item in guide.items}
    by_key: dict[str, list[Item]] = {}
    if not guide.join_references:
        checks = ()
    for item in guide.items:
        for key in item.match_keys():
            by_key.setdefault(key, []).append(item)
    for check in checks:
        for ref in check.references:
            if ref.guide != guide.slug or (ref.version and ref.version != guide.version):
                continue
            full = f"{ref.id}|{ref.title}".lower()
            for item in by_key.get(full) or by_key.get(ref.id.lower(), []):
                # An item that names one control of this check is judged by that control only.
                named = {verdict_key_check(key) for key in joined[item.id]}
                if check.id not in named:
                    joined[item.id].append(check.id)
    return replace(
        guide,
        sections=tuple(
            replace(
                section,
                items=tuple(replace(i, checks=tuple(joined[i.id])) for i in section.items),
            )
            for section in guide.sections
        ),
    )


def guides_load(directory: Path = GUIDES_DIR) -> list[Guide]:
    """Every guide file in `directory`, unjoined, by slug (primary_guides says which leads)."""
    loaded = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.json")]):
        try:
            # JSON is YAML too. libyaml's loader where PyYAML has it: the pure-Python one takes
            # ~0.1 s for the five guides, at the start of every process that reads one.
            document = yaml.load(path.read_text(), Loader=SAFE_LOADER)  # noqa: S506 (safe)
        except yaml.YAMLError as exc:
            raise GuideError(f"{path.name}: {exc}") from exc
        guide = guide_parse(document, where=path.name)
        if guide.slug != path.stem:
            raise GuideError(f"{path.name}: slug {guide.slug!r} must match the file name")
        loaded.append(guide)
    return sorted(loaded, key=lambda g: g.slug)


@cache
def guides() -> dict[str, Guide]:
    """All guides, joined with the check catalog, by slug."""
    catalog = list(REGISTRY.values())
    return {guide.slug: guide_join(guide, catalog) for guide in guides_load()}


# The guides a cluster is assessed against first, by its distribution (clusters.distribution):
# GKE by Google's own hardening guide and the CIS GKE Benchmark, which number GKE's settings.
# Everything else by the CIS Kubernetes Benchmark: self-managed clusters (kubeadm, k3s, ...)
# own all of it; EKS and AKS have CIS benchmarks of their own that Rampart does not ship, and
# there CIS Kubernetes still applies to what the customer runs (sections 4 and 5), its
# control-plane sections showing as the provider's. A cluster not yet collected (""), too.
PRIMARY_GUIDES: dict[str, tuple[str, ...]] = {"gke": ("gke-hardening", "cis-gke")}
DEFAULT_PRIMARY_GUIDES = ("cis-kubernetes",)


def primary_guides(distribution: str) -> tuple[str, ...]:
    """The slugs of the guides a cluster of this distribution is primarily assessed against."""
    return PRIMARY_GUIDES.get(distribution, DEFAULT_PRIMARY_GUIDES)


def guides_for(distribution: str) -> list[Guide]:
    """Every guide, the distribution's primary guides first (in their order), then by slug."""
    leading = primary_guides(distribution)
    rank = {slug: index for index, slug in enumerate(leading)}
    return sorted(guides().values(), key=lambda g: (rank.get(g.slug, len(rank)), g.slug))


def guide_get(slug: str) -> Guide | None:
    return guides().get(slug)


def distribution_of(kubernetes_version: str, recorded: str = "") -> str:
    """A run's distribution: the one its collection recorded (from provider data, the version
    and node labels, clusters.distribution), else what its version string says (runs recorded
    before the distribution was stored). "gke", "eks", "aks", "other", or "" (nothing known)."""
    return recorded or from_version(kubernetes_version)


def run_distribution(run: CollectionRun | None) -> str:
    """The distribution of a stored run (distribution_of), or "" without a run."""
    if run is None:
        return ""
    return distribution_of(run.kubernetes_version or "", run.distribution)


# References may cite a source that has no checklist of its own.
_SOURCES_WITHOUT_GUIDE = {"rampart": "Rampart"}


def guide_label(slug: str) -> str:
    """How a reference's source is named on pages: the guide's title, else a known source."""
    guide = guides().get(slug)
    if guide is not None:
        return guide.title
    return _SOURCES_WITHOUT_GUIDE.get(slug, slug)


def verdict_key_check(key: str) -> str:
    """The check id of an item's judging entry: `pss.baseline/sysctls` -> `pss.baseline`."""
    return key.split("/", 1)[0]


def items_for_check(check_id: str) -> list[tuple[Guide, Item]]:
    """Every guide item a check judges, for the catalog."""
    return [
        (guide, item)
        for guide in guides().values()
        for item in guide.items
        if check_id in {verdict_key_check(key) for key in item.checks}
    ]


def problems(all_guides: Iterable[Guide], catalog: Mapping[str, Check]) -> list[str]:
    """Data mistakes a test must catch: unknown check ids, items mapped to nothing."""
    found = []
    for guide in all_guides:
        for item in guide.items:
            unknown = [c for c in item.explicit_checks if verdict_key_check(c) not in catalog]
            if unknown:
                found.append(f"{guide.slug} {item.id}: unknown check ids {unknown}")
            if not (item.checks or item.manual or item.provider_owned or item.not_applicable):
                found.append(
                    f"{guide.slug} {item.id}: no check judges it and it is not manual, "
                    "provider-owned or not applicable"
                )
    return found
