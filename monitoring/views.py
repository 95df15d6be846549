"""``/metrics`` for Prometheus, and the staff system page with its JSON twin."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import metrics, selectors
from monitoring.collectors import SystemStateCollector

METRICS_FORBIDDEN = "metrics are served to the allow-listed addresses or with the bearer token only\n"


def metrics_access_allowed(request: HttpRequest) -> bool:
    """The peer address is in ``METRICS_ALLOWED_IPS``, or ``Authorization: Bearer <METRICS_TOKEN>``.

    Only the socket's address counts (``REMOTE_ADDR``), never ``X-Forwarded-For``, which
    any client can write.
    """
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_IPS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: this process's (or every worker's) metrics, then the system state."""
    if not metrics_access_allowed(request):
        return HttpResponse(METRICS_FORBIDDEN, status=403, content_type="text/plain")
    state = CollectorRegistry(auto_describe=False)
    state.register(SystemStateCollector())
    body = generate_latest(metrics.registry()) + generate_latest(state)
    response = HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)  # what Prometheus 2.x parses
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@staff_member_required
def system_page(request: HttpRequest) -> HttpResponse:
    status = selectors.system_status()
    return render(
        request,
        "monitoring/system_page.html",
        {"status": status, "queues": list(status.queue_lengths), "nav": "system"},
    )


class SystemApiView(APIView):
    """Staff only: the system page as JSON."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAdminUser]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        body: dict[str, Any] = selectors.system_status().as_json()
        response = Response(body)
        response["Cache-Control"] = "no-store"
        return response
