"""A deterministic change to a share of a synthetic cluster's pods, for the `changed-1%` run.

The change is what a small rollout does to the posture: in the chosen Deployments the first
container's `privileged` flag flips (on where it was off, off where it was on), in the
Deployment's template, its ReplicaSet's template and its pods alike, since checks judge the
owner's template and pods must agree with it. Every changed object gets a new, higher
resourceVersion and the Deployment a new generation. Names stay: the findings' identities do
not depend on pod names anyway (posture/findings.py), and a renamed pod is a different row, not
a changed one.

Generations alternate: odd ones serve the flipped content, even ones the original content again,
each with resourceVersions never served before, as a real API server would.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


@dataclass
class Change:
    """The objects a change rewrites: (resource key, index in its list, original object)."""

    originals: list[tuple[str, int, JSON]] = field(default_factory=list)
    deployments: int = 0
    pods: int = 0
    highest_version: int = 0  # the largest resourceVersion in the cluster before any change

    def objects_at(self, generation: int) -> list[tuple[str, int, JSON]]:
        """(key, index, object as served at `generation`); generation 0 is the original."""
        flipped = generation % 2 == 1
        out = []
        for offset, (key, index, original) in enumerate(self.originals):
            obj = copy.deepcopy(original)
            metadata = obj["metadata"]
            metadata["resourceVersion"] = str(
                self.highest_version + generation * (len(self.originals) + 1) + offset + 1
            )
            if key == "deployments":
                metadata["generation"] = int(metadata.get("generation") or 1) + generation
            if flipped:
                _flip_privileged(_pod_spec(key, obj))
            out.append((key, index, obj))
        return out


def plan_change(objects: dict[str, list[JSON]], *, share: float = 0.01) -> Change:
    """Choose Deployments holding about `share` of the pods, spread evenly over the cluster."""
    pods = objects.get("pods", [])
    change = Change(highest_version=_highest_version(objects))
    if not pods or share <= 0:
        return change
    target = max(1, round(len(pods) * share))
    step = max(1, len(pods) // target)  # pick a Deployment every `step` pods
    replica_sets = _children(objects.get("replicasets", []))
    pods_of = _children(pods)
    seen_pods, next_pick = 0, 0
    for index, deployment in enumerate(objects.get("deployments", [])):
        rs_indexes = replica_sets.get(deployment["metadata"]["uid"], [])
        pod_indexes = [
            i
            for rs in rs_indexes
            for i in pods_of.get(objects["replicasets"][rs]["metadata"]["uid"], [])
        ]
        seen_pods += len(pod_indexes)
        if seen_pods <= next_pick or not pod_indexes:
            continue
        next_pick += step
        change.originals.append(("deployments", index, copy.deepcopy(deployment)))
        change.originals += [
            ("replicasets", i, copy.deepcopy(objects["replicasets"][i])) for i in rs_indexes
        ]
        change.originals += [("pods", i, copy.deepcopy(pods[i])) for i in pod_indexes]
        change.deployments += 1
        change.pods += len(pod_indexes)
        if change.pods >= target:
            break
    return change


def _children(items: list[JSON]) -> dict[str, list[int]]:
    """Owner uid -> indexes of the items it controls."""
    out: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        for ref in item["metadata"].get("ownerReferences") or []:
            if ref.get("controller"):
                out.setdefault(ref["uid"], []).append(index)
    return out


def _highest_version(objects: dict[str, list[JSON]]) -> int:
    return max(
        (
            int(item["metadata"]["resourceVersion"])
            for items in objects.values()
            for item in items
            if str(item.get("metadata", {}).get("resourceVersion", "")).isdigit()
        ),
        default=0,
    )


def _pod_spec(key: str, obj: JSON) -> JSON:
    spec: JSON = obj["spec"]
    return spec if key == "pods" else spec["template"]["spec"]


def _flip_privileged(spec: JSON) -> None:
    container = spec["containers"][0]
    if (container.get("securityContext") or {}).get("privileged") is True:
        container.pop("securityContext")
    else:
        # Replaced, not merged: the API rejects privileged with allowPrivilegeEscalation false.
        container["securityContext"] = {"privileged": True}
