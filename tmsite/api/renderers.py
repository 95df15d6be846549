"""orjson rendering for the public API (several times faster than the stdlib encoder)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # decimals travel as strings, never floats
    return str(value)  # lazy translation strings and other str-likes


_ACCEPTABLE = ("application/json", "*/*", "application/*")


def acceptable(accept: str | None) -> bool:
    """A JSON answer suits this ``Accept`` (else DRF's negotiation answers its 406)."""
    return not accept or any(kind in accept for kind in _ACCEPTABLE)


def render_json(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return b"" if data is None else render_json(data)


class JsonNegotiation(DefaultContentNegotiation):
    """The API answers JSON only: a call that accepts it gets the one renderer straight away.
    DRF's negotiation parsed ``Accept`` and matched every media type on each call (~0.1 ms
    of an uncached token detail); anything else (another ``Accept``, ``?format=``) still
    goes through it, and gets its 406."""

    def select_renderer(self, request: Any, renderers: list[Any], format_suffix: str | None = None) -> Any:
        if (
            len(renderers) == 1
            and format_suffix is None
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            and acceptable(request.META.get("HTTP_ACCEPT"))
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
