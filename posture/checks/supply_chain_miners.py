"""Crypto-miner heuristics over workload images, commands, arguments and env (hardening.md §6.2).

Each signal is weak alone; a workload is flagged on one strong indicator (miner image or
binary, stratum URL, mining-pool host, the back-doored Docker Hub account) or on two weaker
ones of which at least one is not a port, so a web server on 8080 is never a miner.
"""

from __future__ import annotations

import re

from clusters.inventory import JSON, Inventory
from posture.checks.base import Area, CheckContext, Outcome, Severity, check
from posture.checks.guides import CIS_GKE, NSA
from posture.checks.image_refs import ImageRef, container_images, workload_affected
from posture.workloads import WORKLOAD_NEEDS, workloads

# Falco `miner_binaries`, matched on image names and command[0].
MINER_BINARIES = (
    "xmrig", "xmr-stak", "minerd", "minergate", "cpuminer", "ccminer", "ethminer", "cgminer",
    "bfgminer", "sgminer", "claymore", "nbminer", "t-rex", "gminer", "lolminer",
    "phoenixminer", "teamredminer", "nanominer", "bminer", "wildrig", "srbminer",
)  # fmt: skip
_MINER_BINARY = re.compile(
    r"(?:^|[/_.-])(" + "|".join(re.escape(b) for b in MINER_BINARIES) + r")(?:$|[/_.:-])",
    re.IGNORECASE,
)
# Registrable domains of the pools in Falco's `miner_domains`: every host under them is a pool.
MINER_POOL_DOMAINS = (
    "minexmr.com", "crypto-pool.fr", "supportxmr.com", "nanopool.org", "ethermine.org",
    "ethpool.org", "antpool.com", "unmineable.com", "minergate.com", "slushpool.com",
    "dwarfpool.com", "moneropool.com", "xmrpool.net", "hashvault.pro",
)  # fmt: skip
_POOL_HOST = re.compile(
    r"(?:^|[^a-z0-9.-])((?:[a-z0-9-]+\.)*(?:"
    + "|".join(re.escape(d) for d in MINER_POOL_DOMAINS)
    + r"))(?![a-z0-9-])",
    re.IGNORECASE,
)
_STRATUM = re.compile(r"stratum2?\+(?:tcp|ssl)://", re.IGNORECASE)
# Monero wallet addresses: 95 base58 characters starting with 4 (or 8 for subaddresses).
_WALLET = re.compile(r"(?<![1-9A-Za-z])[48][1-9A-HJ-NP-Za-km-z]{94}(?![1-9A-Za-z])")
_MINER_FLAGS = re.compile(
    r"--donate-level|--cpu-priority|(?:^|\s)(?:-a|--algo)[=\s]+(?:cryptonight\S*|rx/\S+|randomx)",
    re.IGNORECASE,
)
# Falco `miner_ports`: ordinary web ports among them, so only ever a tie-breaker.
MINER_PORTS = frozenset(
    {3333, 3334, 3335, 3336, 3357, 4444, 5555, 5556, 5588, 5730, 6099, 6666, 7777, 7778, 8000,
     8001, 8008, 8080, 8118, 8333, 8888, 8899, 9332, 9999, 14433, 14444, 45560, 45700}
)  # fmt: skip
# The 2017-18 back-doored Docker Hub account (hardening.md §0.3).
KNOWN_MINER_NAMESPACES = ("docker.io/docker123321/",)
STRONG, MEDIUM, WEAK = 3, 2, 1


def _miner_signals(container: JSON, ref: ImageRef) -> list[tuple[int, str]]:
    signals: list[tuple[int, str]] = []
    if any(f"{ref.name}/".startswith(prefix) for prefix in KNOWN_MINER_NAMESPACES):
        signals.append((STRONG, f"image from known miner account {ref.name}"))
    if match := _MINER_BINARY.search(ref.repository):
        signals.append((STRONG, f"miner image name {match.group(1)!r}"))
    command = [str(part) for part in (container.get("command") or [])]
    if command and (match := _MINER_BINARY.search(command[0])):
        signals.append((STRONG, f"miner binary {match.group(1)!r} in command"))
    words = [*command, *(str(a) for a in container.get("args") or [])]
    words += [str(env.get("value")) for env in container.get("env") or [] if env.get("value")]
    text = " ".join(words)
    folded = text.lower() if text.isascii() else None
    if _STRATUM.search(text):
        signals.append((STRONG, "stratum mining-pool URL in command/args/env"))
    if _may_match(folded, MINER_POOL_DOMAINS) and (match := _POOL_HOST.search(text)):
        signals.append((STRONG, f"mining pool host {match.group(1)}"))
    if _WALLET.search(text):
        signals.append((MEDIUM, "Monero wallet address in arguments"))
    if _may_match(folded, _MINER_FLAG_WORDS) and (match := _MINER_FLAGS.search(text)):
        signals.append((MEDIUM, f"miner option {match.group(0).strip()!r}"))
    ports = sorted(
        {p.get("containerPort") for p in container.get("ports") or []} & MINER_PORTS,
        key=int,
    )
    if ports:
        signals.append((WEAK, f"miner port {', '.join(str(p) for p in ports)}"))
    return signals


# Every _MINER_FLAGS match contains one of these.
_MINER_FLAG_WORDS = ("--donate-level", "--cpu-priority", "cryptonight", "rx/", "randomx")


def _may_match(folded: str | None, needles: tuple[str, ...]) -> bool:
    """False when the lower-cased ASCII text lacks every substring a match must contain.

    The pool-host regex costs ~20 us per container and nearly none match, so the plain
    substring test rules them out first. Text with non-ASCII characters always goes to the
    regex, whose IGNORECASE folds characters (such as U+0131) that lower() does not.
    """
    return folded is None or any(needle in folded for needle in needles)


def _is_miner(signals: list[tuple[int, str]]) -> bool:
    # One strong indicator, or two weaker ones of which at least one is not a port.
    total = sum(weight for weight, _ in signals)
    return total >= STRONG and any(weight > WEAK for weight, _ in signals)


@check(
    id="supply_chain.miner_images",
    title="Workloads that look like crypto-miners",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.CRITICAL,
    rationale=(
        "Miner images, stratum URLs, mining-pool hosts and wallet arguments are what the "
        "back-doored Docker Hub images and hijacked clusters ran; one such workload means "
        "someone could create pods they should not have."
    ),
    remediation=(
        "Delete the workload, find how it was created (audit logs, anonymous bindings, exposed "
        "dashboards), rotate credentials, and restrict registries at admission."
    ),
    evidence=WORKLOAD_NEEDS,
    references=(
        NSA("Pod security", title="Build secure images; scan them"),
        CIS_GKE("5.1.4", title="Only trusted container images"),
    ),
)
def miner_images(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = []
    for workload in workloads(inventory):
        for container, ref in container_images(workload):
            signals = _miner_signals(container, ref)
            if _is_miner(signals):
                reasons = "; ".join(reason for _, reason in signals)
                affected.append(
                    workload_affected(
                        workload, f"container {container.get('name')}: image {ref.raw}: {reasons}"
                    )
                )
    return Outcome.from_affected(
        affected,
        passed="no workload matches the crypto-miner indicators",
        failed="{count} containers look like crypto-miners",
    )
