"""One pagination for every long or time-series list: opaque cursors, bounded page size.

A cursor holds the last row's sort value (plus an offset among equal values), so pages stay
stable while new rows are inserted. The view names the ordering (``cursor_ordering``); the
answer is ``{"data": [...], "meta": {"next": url|null, "previous": url|null, "page_size": n}}``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

PAGE_SIZE_INVALID = "must be a whole number of rows, at least 1"


class ApiCursorPagination(CursorPagination):
    page_size_query_param = "page_size"
    cursor_query_description = "Opaque cursor from meta.next / meta.previous of the previous page."
    page_size_query_description = "Rows per page (default 50, at most 200)."

    def __init__(self) -> None:
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        """``page_size`` when given (at most ``API_MAX_PAGE_SIZE``); a malformed one is a 400."""
        raw = request.query_params.getlist(self.page_size_query_param)
        if not raw:
            return self.page_size
        if len(raw) > 1 or not raw[0].isdigit() or int(raw[0]) < 1:
            raise ValidationError({self.page_size_query_param: [PAGE_SIZE_INVALID]})
        return min(int(raw[0]), self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        return tuple(view.get_cursor_ordering())

    def envelope(self, data: Any) -> dict[str, Any]:
        return {
            "data": data,
            "meta": {"next": self.get_next_link(), "previous": self.get_previous_link(), "page_size": self.page_size},
        }

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        next_link = {**link, "example": "https://tmsite.example/api/v1/tokens/?cursor=cD04MS4w"}
        return {
            "type": "object",
            "required": ["data", "meta"],
            "properties": {
                "data": schema,
                "meta": {
                    "type": "object",
                    "properties": {
                        "next": next_link,
                        "previous": {**link, "example": None},
                        "page_size": {"type": "integer", "example": 50},
                    },
                },
            },
        }
