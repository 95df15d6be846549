"""Watchlists, linked wallets and Sign-In With Ethereum.

Permission checks live here (and in the selectors they call): a watchlist that is not the
signed-in user's answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import json

from allauth.core import ratelimit
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from market.models import Token
from ratings.views import HtmxHttpRequest
from wallets.models import User
from wallets.selectors import user_wallets, watchlist_get_for_user, watchlist_items, watchlists_of
from wallets.services import siwe_challenge_issue, siwe_sign_in, watchlist_token_set

WATCH_TEMPLATE = "wallets/watchlist_page.html#watch-button"
SIWE_THROTTLED = "too many wallet sign-in attempts from this address; try again in a minute"


def _siwe_throttled(request: HttpRequest) -> JsonResponse | None:
    """A 429 once this client spent its SIWE attempts (``ACCOUNT_RATE_LIMITS["siwe"]``).

    Counted in the cache by django-allauth's rate limiter, the same one that throttles
    e-mail logins, so both sign-in paths share one mechanism and one store.
    """
    if ratelimit.consume(request, action="siwe"):
        return None
    return JsonResponse({"error": SIWE_THROTTLED}, status=429, headers={"Retry-After": "60"})


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@require_POST
@login_required
def watchlist_toggle(request: HtmxHttpRequest, token_id: int) -> HttpResponse:
    """Star or unstar a token (``watched=1`` adds, ``watched=0`` removes).

    HTMX swaps just the button; without JS the form posts and we go back where we were.
    """
    token = get_object_or_404(Token, pk=token_id)
    watched = watchlist_token_set(user=_user(request), token=token, watched=request.POST.get("watched") == "1")
    if request.htmx:
        return render(request, WATCH_TEMPLATE, {"token": token, "is_watched": watched})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("ratings:ratings_page")
    return redirect(back)


@require_GET
@login_required
def watchlist_page(request: HttpRequest, watchlist_id: int) -> HttpResponse:
    """One of the user's watchlists; anyone else's is a 404."""
    watchlist = watchlist_get_for_user(watchlist_id=watchlist_id, user=_user(request))
    return render(
        request,
        "wallets/watchlist_page.html",
        {
            "watchlist": watchlist,
            "items": list(watchlist_items(watchlist=watchlist)),
            "watchlists": list(watchlists_of(user=_user(request))),
        },
    )


@require_GET
@login_required
def wallets_page(request: HttpRequest) -> HttpResponse:
    """The user's linked wallets and a button to link another (signs an EIP-4361 message)."""
    return render(request, "wallets/wallets_page.html", {"wallets": list(user_wallets(user=_user(request)))})


@require_GET
def siwe_sign_in_page(request: HttpRequest) -> HttpResponse:
    return render(request, "wallets/siwe_page.html", {"next": request.GET.get("next", "")})


def _site_uri(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key or ""


@require_POST
def siwe_challenge(request: HttpRequest) -> JsonResponse:
    """The EIP-4361 message for ``{address, chain_id}`` (JSON body) to sign, with a fresh nonce."""
    if throttled := _siwe_throttled(request):
        return throttled
    try:
        body = json.loads(request.body or b"{}")
        challenge = siwe_challenge_issue(
            domain=request.get_host(),
            uri=_site_uri(request),
            address=str(body["address"]),
            chain_id=int(body["chain_id"]),
            session_key=_session_key(request),
        )
    except (KeyError, ValueError, TypeError):
        return JsonResponse({"error": "send JSON {address, chain_id}"}, status=400)
    except ValidationError as error:
        return JsonResponse({"error": error.messages[0]}, status=400)
    return JsonResponse({"message": challenge.message, "nonce": challenge.nonce})


@require_POST
def siwe_verify(request: HttpRequest) -> JsonResponse:
    """Check ``{message, signature}``; sign in (or link the wallet when already signed in)."""
    if throttled := _siwe_throttled(request):
        return throttled
    try:
        body = json.loads(request.body or b"{}")
        message, signature = str(body["message"]), str(body["signature"])
    except (KeyError, ValueError, TypeError):
        return JsonResponse({"error": "send JSON {message, signature}"}, status=400)
    current = _user(request) if request.user.is_authenticated else None
    try:
        user, wallet = siwe_sign_in(
            message=message,
            signature=signature,
            domain=request.get_host(),
            uri=_site_uri(request),
            session_key=_session_key(request),
            user=current,
        )
    except ValidationError as error:
        return JsonResponse({"error": error.messages[0]}, status=400)
    if current is None:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Signed in with wallet {wallet.address}.")
    else:
        messages.success(request, f"Linked wallet {wallet.address}.")
    next_url = str(body.get("next") or "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("wallets:wallets_page") if current else reverse("ratings:ratings_page")
    return JsonResponse({"address": wallet.address, "user": user.get_username(), "next": next_url})
