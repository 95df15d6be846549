from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

# The links of the site's header (templates/base.html). Reversing a URL name costs ~70-100 us
# and every page's header reversed seven of them, ~0.6 ms of a cached ratings page's ~4 ms:
# they are reversed once per script prefix instead.
_NAV_NAMES = {
    "home": "home",
    "api_docs": "api-docs",
    "ratings": "ratings:ratings_page",
    "system": "monitoring:system-page",
    "admin": "admin:index",
    "wallets": "wallets:wallets_page",
    "logout": "account_logout",
    "login": "account_login",
    "signup": "account_signup",
}
_NAV_URLS: dict[tuple[str, str], dict[str, str]] = {}


def _reversed(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:  # a URLconf without that part of the site (a test's, a bench's)
        return "/api/docs/" if name == "api-docs" else "#"


def _nav_urls() -> dict[str, str]:
    key = (get_script_prefix(), str(get_urlconf() or settings.ROOT_URLCONF))
    urls = _NAV_URLS.get(key)
    if urls is None:
        urls = _NAV_URLS[key] = {key: _reversed(name) for key, name in _NAV_NAMES.items()}
    return urls


def site(request: HttpRequest) -> dict[str, Any]:
    return {"SITE_NAME": settings.SITE_NAME, "NAV_URLS": _nav_urls()}
