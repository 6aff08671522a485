"""References to the guides checks implement, with the one edition of each Rampart cites.

Editions live here once so a benchmark update is one edit: CIS numbering drifts between
versions (hardening.md §2.2), so an id without its version is ambiguous.
"""

from __future__ import annotations

from functools import partial

from posture.checks.base import Reference

# CIS Kubernetes Benchmark as kube-bench encodes it (cis-1.12).
CIS = partial(Reference, "cis-kubernetes", version="1.12")
CIS_GKE = partial(Reference, "cis-gke", version="1.9.0")
# Row ids (E6, F3, L1, ...) of hardening.md §1, current edition last updated 2026-04-10.
GKE = partial(Reference, "gke-hardening", version="2026-04")
# NSA/CISA Kubernetes Hardening Guidance v1.2: sections are cited by name, as §3.2 gives them.
NSA = partial(Reference, "nsa-cisa", version="1.2")
# The Amazon EKS Best Practices Guide (docs.aws.amazon.com/eks/latest/best-practices/, formerly
# aws/aws-eks-best-practices): cited by the recommendation's heading, `title` names its page.
EKS_BP = partial(Reference, "eks-best-practices")
