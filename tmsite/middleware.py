"""One log line per request: method, path, status and duration.

Written as the outermost middleware so the duration covers every other middleware, and
so a request that raised still gets its line (with status 500) before the error
propagates to Django's handler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import csp.constants
import csp.middleware
import csp.utils
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase

logger = logging.getLogger("tmsite.request")


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            request_log(request.method, request.path, request.get_full_path(), status, started)


def request_log(method: str | None, path: str, full_path: str, status: int, started: float) -> None:
    """The request's line (also written by the API edge, tmsite/api/edge.py, for the calls it
    answers before Django)."""
    duration_ms = (time.perf_counter() - started) * 1000
    logger.info(
        "%s %s %s %.1fms",
        method,
        full_path,
        status,
        duration_ms,
        extra={"method": method, "path": path, "status": status, "duration_ms": round(duration_ms, 2)},
    )


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware with the site-wide policy built once per process.

    The library builds the header from the settings on every response (two ``build_policy``
    calls, the policy and the report-only one): ~0.2 ms of CPU per response, measured, about
    a third of the whole stack's cost for a small answer. A response with its own policy parts
    (``csp_update`` and friends) or a request that used a nonce takes the library's path.
    """

    _built: ClassVar[dict[bool, str]] = {}

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _CSP_PARTS
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        for header, report_only, setting, exempt in _CSP_HEADERS:
            policy = self._built.get(report_only)
            if policy is None:
                policy = self._built[report_only] = csp.utils.build_policy(report_only=report_only)
            if policy and header not in response and not getattr(response, exempt, False):
                prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
                if not request.path_info.startswith(tuple(prefixes)):
                    response[header] = policy
        request.csp_nonce = csp.middleware.CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


_CSP_PARTS = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_CSP_HEADERS = (
    (csp.constants.HEADER, False, "CONTENT_SECURITY_POLICY", "_csp_exempt"),
    (csp.constants.HEADER_REPORT_ONLY, True, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro"),
)


@receiver(setting_changed)
def _csp_policy_forget(setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        CSPMiddleware._built.clear()
