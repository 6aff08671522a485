"""Signals the accounts app sends; apps above it listen (accounts imports none of them).

`account_changed` is sent inside the transaction of a change to a person's account made in
Rampart (created, role changed, deactivated or reactivated, password changed), with `actor` (the
user who made the change), `action` (`user.create`, `user.role_change`, `user.deactivate`,
`user.reactivate`, `user.password_change`), `object_type` ("user"), `object_id`, `before`,
`after` (dicts, never passwords) and `at`. The compliance app records each as an AuditEvent in
the same transaction, so the change and its audit commit together.
"""

from __future__ import annotations

from django.dispatch import Signal

account_changed = Signal()
