"""The base of every public API view: auth, plan throttling, orjson, cursor pages, caching."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring.middleware import route_label
from tmsite.api import hot
from tmsite.api.auth import EDGE_KEY, ApiKeyAuthentication
from tmsite.api.caching import cached_json
from tmsite.api.pagination import ApiCursorPagination
from tmsite.api.renderers import JsonNegotiation, ORJSONRenderer
from tmsite.api.schema import ApiSchema
from tmsite.api.throttling import PlanRateThrottle

ERROR = OpenApiResponse(description='{"error": {"status", "code", "message", "fields": {param: [messages]}}}')
ERRORS = {400: ERROR, 401: ERROR, 404: ERROR, 429: ERROR}


class ApiView(GenericAPIView):
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [PlanRateThrottle]
    renderer_classes = [ORJSONRenderer]
    content_negotiation_class = JsonNegotiation
    parser_classes = [JSONParser]
    pagination_class = ApiCursorPagination
    schema = ApiSchema()
    cursor_ordering: tuple[str, ...] = ("-id",)
    cache_responses = False  # hot public data: cached, with ETag / Last-Modified

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if self.cache_responses and EDGE_KEY not in request.META:  # the edge looked already
            answer = hot.cached_answer(request, allow=", ".join(self.allowed_methods))
            if answer is not None:
                return answer
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # DRF order, except that throttling comes before permissions, so that every answer
        # (a 401 or 403 too) is counted and carries the rate headers.
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        try:
            self.perform_authentication(request)
        except exceptions.APIException:
            self.check_throttles(request)  # failed keys count against the client IP
            raise
        self.check_throttles(request)
        self.check_permissions(request)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in getattr(request, "_rate_headers", {}).items():
            response[name] = value
        return response

    def get_cursor_ordering(self) -> tuple[str, ...]:
        return self.cursor_ordering

    def page(self, queryset: Any, *, rows_out: Callable[[Any], Any] | None = None, **context: Any) -> dict[str, Any]:
        """One cursor page of ``queryset`` through the view's serializer (or ``rows_out`` for each
        row, for ``values()`` querysets), enveloped."""
        paginator = self.paginator
        assert paginator is not None
        rows = paginator.paginate_queryset(queryset, self.request, view=self)
        assert rows is not None
        if rows_out is not None:
            return paginator.envelope([rows_out(row) for row in rows])
        serializer = self.get_serializer(rows, many=True, context={**self.get_serializer_context(), **context})
        return paginator.envelope(serializer.data)

    def answer(self, build: Any) -> Any:
        """``build()`` (an envelope dict), cached with ETag when the view opts in."""
        if self.cache_responses:
            allow = ", ".join(self.allowed_methods)
            return cached_json(self.request, build, allow=allow, route=route_label(self.request))
        return Response(build())
