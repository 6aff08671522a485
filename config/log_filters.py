"""Logging filters for Django's own loggers."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied


class ExpectedDenialFilter(logging.Filter):
    """A refused request (PermissionDenied, a 403) is one warning line, not a traceback.

    Django's request logger attaches the exception to "Forbidden (Permission denied)"; a denial
    is the access rules working, and a traceback per refused page buries the errors that matter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        if exc_info and isinstance(exc_info[1], PermissionDenied):
            reason = str(exc_info[1])
            if reason:
                record.msg = f"{record.msg} ({reason.replace('%', '%%')})"
            record.exc_info = None
            record.exc_text = None
        return True
