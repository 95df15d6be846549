"""Request latency metrics, and ``/metrics`` answered before the rest of the stack.

Outermost middleware. Every request's duration is observed once, labelled by the URL
pattern's name (a bounded set, unlike paths) and the status code. ``/metrics`` is answered
here, ahead of ``ALLOWED_HOSTS`` (CommonMiddleware) and the HTTPS redirect: Prometheus
addresses each web process by IP and port, which no host list can name, and it is guarded
by its own allow-list or bearer token (:mod:`monitoring.views`). Scrapes are not observed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from monitoring import metrics

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(request: HttpRequest) -> str:
    """The URL pattern's name ("ratings:token_page"), or a fixed label when none matched."""
    match = request.resolver_match
    if match is None:
        return "<static>" if request.path.startswith(f"/{settings.STATIC_URL.lstrip('/')}") else metrics.UNMATCHED_ROUTE
    return match.view_name or match.route or metrics.UNMATCHED_ROUTE


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.metrics_path = f"/{settings.METRICS_PATH.strip('/')}"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == self.metrics_path:
            from monitoring.views import metrics_view

            return metrics_view(request)
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            method = request.method if request.method in KNOWN_METHODS else "other"
            metrics.HTTP_REQUEST_DURATION.labels(route_label(request), method, str(status)).observe(
                time.perf_counter() - started
            )
