"""Signals the clusters app sends; apps above it listen (clusters imports none of them).

`cluster_changed` is sent inside the transaction of a change to what a cluster's collections
read (a provider link set or removed, a provider document uploaded or removed), with
`cluster`, `actor` (a user or None), `action` (`provider_link.set`), `object_type`,
`object_id`, `before`, `after` (dicts, never credentials) and `at`. The compliance app records
each as an AuditEvent, in the same transaction, so the change and its audit commit together.
"""

from __future__ import annotations

from django.dispatch import Signal

cluster_changed = Signal()
