"""The API's OpenAPI schema class: documents what every answer carries besides its body.

Every answer of the public data API carries the caller's rate (``X-RateLimit-*``), a 429 also
``Retry-After``; the cached reads (``ApiView.cache_responses``) carry ``ETag`` and
``Last-Modified``, take ``If-None-Match`` / ``If-Modified-Since`` and may answer 304.
"""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

HEADER: Literal["header"] = "header"
RATE_HEADERS = [
    OpenApiParameter("X-RateLimit-Limit", int, HEADER, response=True, description="requests per period of your plan"),
    OpenApiParameter("X-RateLimit-Remaining", int, HEADER, response=True, description="requests left now"),
    OpenApiParameter(
        "X-RateLimit-Reset", int, HEADER, response=True, description="seconds until the whole allowance is back"
    ),
    OpenApiParameter(
        "Retry-After", int, HEADER, response=[429], description="seconds until the next request is allowed"
    ),
]
CACHE_HEADERS = [
    OpenApiParameter("ETag", str, HEADER, response=[200, 304], description="hash of the body"),
    OpenApiParameter("Last-Modified", str, HEADER, response=[200, 304], description="when the answer was built"),
    OpenApiParameter(
        "If-None-Match", str, HEADER, required=False, description="an ETag you hold: 304 while it is current"
    ),
    OpenApiParameter(
        "If-Modified-Since", str, HEADER, required=False, description="HTTP date: 304 when not rebuilt since"
    ),
]
NOT_MODIFIED = "Not Modified: the ETag (or date) you sent is current; no body"


class ApiSchema(AutoSchema):
    def _cached_read(self) -> bool:
        return self.method == "GET" and getattr(self.view, "cache_responses", False)

    def get_override_parameters(self) -> list[Any]:
        return [*super().get_override_parameters(), *RATE_HEADERS, *(CACHE_HEADERS if self._cached_read() else [])]

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation and self._cached_read():  # extend_schema's responses replace the serializers': add it here
            headers = operation["responses"]["200"].get("headers", {})  # ETag, Last-Modified, the rate
            operation["responses"]["304"] = {"description": NOT_MODIFIED, "headers": headers}
        return operation
