"""Django's JSON fixtures, but with timestamps to the microsecond.

Django's JSON encoder cuts datetimes to milliseconds (the ECMAScript format), so a restored
collection would not start at the instant it started, and rows ordered by time could swap.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.serializers.json import Deserializer as JsonDeserializer
from django.core.serializers.json import DjangoJSONEncoder
from django.core.serializers.json import Serializer as JsonSerializer

FORMAT_NAME = "rampartjson"


class ExactEncoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


class Serializer(JsonSerializer):
    def _init_options(self) -> None:
        super()._init_options()  # type: ignore[misc]
        self.json_kwargs["cls"] = ExactEncoder


Deserializer = JsonDeserializer
