"""The Celery app. Configuration lives in config/settings.py under the CELERY_ namespace."""

import logging
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("rampart")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_credentials_in_worker_logs(logger: logging.Logger, **kwargs: object) -> None:
    """The worker replaces Django's handlers with its own: give them the same redaction."""
    from clusters.redaction import RedactingFilter

    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
