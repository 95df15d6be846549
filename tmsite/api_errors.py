"""One error shape for the whole API, whatever raised it.

Every 4xx/5xx answer of ``/api/`` is::

    {"error": {"status": 400, "code": "invalid", "message": "sellAmount: ...",
               "fields": {"sellAmount": ["..."]}}}

``fields`` names each request parameter at fault (empty when the error is not about one).
Domain errors carry their own status, code and field: any exception with ``status``,
``code``, ``message`` and ``field`` attributes (``swaps.services.SwapError``) is mapped
here, so services stay free of HTTP.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def error_body(*, status_code: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"status": status_code, "code": code, "message": message, "fields": fields or {}}}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested ``detail`` as ``{"field.sub": [messages]}``."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = key if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                name = prefix or "non_field_errors"
            out.update(_flatten(value, name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    domain: Any = exc
    if all(hasattr(domain, attr) for attr in ("status", "code", "message", "field")) and isinstance(domain.status, int):
        fields = {domain.field: [domain.message]} if domain.field else {}
        body = error_body(status_code=domain.status, code=domain.code, message=domain.message, fields=fields)
        return Response(body, status=domain.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handling (and logging) takes over
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        response.data = error_body(status_code=response.status_code, code="invalid", message=message, fields=fields)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(status_code=response.status_code, code=code, message=str(exc.detail))
    else:
        response.data = error_body(
            status_code=response.status_code or status.HTTP_500_INTERNAL_SERVER_ERROR, code="error", message=str(exc)
        )
    return response
