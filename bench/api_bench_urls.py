"""The site's URLs plus a fixed-bytes view, for the API benchmark only (never shipped)."""

from functools import cache

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


@cache
def _body(size: int) -> bytes:
    return (b'{"data":"' + b"x" * size)[:size]


def fixed_bytes(request: HttpRequest, size: int) -> HttpResponse:
    """The floor: Django's request/response cycle and middleware, no work at all."""
    return HttpResponse(_body(min(size, 1 << 20)), content_type="application/json")


urlpatterns = [
    path("bench/fixed/<int:size>", fixed_bytes),
    path("", include("tmsite.urls")),
]
