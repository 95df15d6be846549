from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tmsite.health import readiness_check


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches no dependency, so a slow database never
    gets a healthy web process restarted."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: every dependency reachable, each with its latency; 503 if one is not."""
    results = readiness_check()
    ready = all(result.ok for result in results)
    body = {
        "status": "ok" if ready else "unavailable",
        "failing": [result.name for result in results if not result.ok],
        "checks": {result.name: result.as_json() for result in results},
    }
    return JsonResponse(body, status=200 if ready else 503)


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")
