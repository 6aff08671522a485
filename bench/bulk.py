"""Rows into tables fast: COPY on PostgreSQL, bulk_create elsewhere, ids handed out here.

A row is a dict keyed by the model's attnames (`cluster_id`, not `cluster`) and must name every
concrete field: a column added to a model fails the bench loudly instead of going unmeasured.
JSON values go to COPY as orjson text, which PostgreSQL parses into the same jsonb that
Django's JSONField would have sent.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from operator import itemgetter
from types import TracebackType
from typing import Any

import orjson
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max

Row = dict[str, Any]
Tables = list[tuple[type[models.Model], list[Row]]]


class Ids:
    """Primary keys for `models`, counting on from the largest already stored."""

    def __init__(self, model_list: list[type[models.Model]]) -> None:
        self.models = model_list
        self.next = {
            model: (model._default_manager.aggregate(top=Max("pk"))["top"] or 0) + 1
            for model in model_list
        }

    def take(self, model: type[models.Model]) -> int:
        pk = self.next[model]
        self.next[model] = pk + 1
        return pk

    def sequences_reset(self) -> None:
        """Move the database's sequences past the ids written, so the ORM can insert again."""
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), self.models):
                cursor.execute(sql)


def rows_write(model: type[models.Model], rows: list[Row]) -> None:
    if not rows:
        return
    names = [f.attname for f in model._meta.concrete_fields]
    given, expected = set(rows[0]), set(names)
    if given != expected:
        raise RuntimeError(
            f"rows for {model._meta.label} do not match its fields: "
            f"missing {sorted(expected - given)}, unknown {sorted(given - expected)}"
        )
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create([model(**row) for row in rows], batch_size=500)
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column or f.attname) for f in model._meta.concrete_fields)
    json_at = [
        i for i, f in enumerate(model._meta.concrete_fields) if isinstance(f, models.JSONField)
    ]
    values_of = itemgetter(*names)
    texts: dict[int, str] = {}  # rows share dicts (kind_status, area_scores): dump each once
    with connection.cursor() as cursor:
        sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                values = list(values_of(row))
                for i in json_at:
                    value = values[i]
                    if value is not None:
                        text = texts.get(id(value))
                        if text is None:
                            text = texts[id(value)] = orjson.dumps(value).decode()
                        values[i] = text
                copy.write_row(values)


class RowSink:
    """Writes batches of tables, one transaction each, in order.

    On PostgreSQL a thread with its own connection does the writing, so the server ingests one
    batch while the caller builds the next; `put` blocks while two batches are waiting. An error
    in the thread surfaces at the next `put` or on leaving the `with` block.
    """

    def __init__(self) -> None:
        self.written: Counter[str] = Counter()
        self.blocked = 0.0  # seconds put() waited for the writer: the database was the bottleneck
        self.writing = 0.0  # seconds spent writing
        self.threaded = connection.vendor == "postgresql"
        self._queue: queue.Queue[Tables | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="bench-rows", daemon=True)

    def __enter__(self) -> RowSink:
        if self.threaded:
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.threaded:
            self._queue.put(None)
            self._thread.join()
        if self._error is not None and error is None:
            raise RuntimeError("writing generated rows failed") from self._error

    def put(self, tables: Tables) -> None:
        if self._error is not None:
            raise RuntimeError("writing generated rows failed") from self._error
        if self.threaded:
            started = time.perf_counter()
            self._queue.put(tables)
            self.blocked += time.perf_counter() - started
        else:
            self._write(tables)

    def _drain(self) -> None:
        try:
            while (tables := self._queue.get()) is not None:
                if self._error is None:
                    self._write(tables)
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc
            while self._queue.get() is not None:  # unblock put() until the end marker
                pass
        finally:
            connection.close()  # this thread's own connection

    def _write(self, tables: Tables) -> None:
        started = time.perf_counter()
        with transaction.atomic():
            for model, rows in tables:
                rows_write(model, rows)
                self.written[model._meta.label] += len(rows)
        self.writing += time.perf_counter() - started
