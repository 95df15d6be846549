"""The standalone swap page, ``/swap/?buy=<address>``: token pages and the Moonshots Buy
button link here; the widget itself is ``swaps/widget.html`` plus ``static/swaps/swap.js``."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from swaps.selectors import swap_widget_config


@require_GET
@ensure_csrf_cookie  # the widget posts builds with the CSRF cookie's token
def swap_page(request: HttpRequest) -> HttpResponse:
    config = swap_widget_config(chain_id=settings.CHAIN_ID, buy=request.GET.get("buy", ""))
    return render(request, "swaps/swap_page.html", {"swap_config": config})
