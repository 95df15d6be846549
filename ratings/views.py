"""The site's ratings table and token pages (server-rendered, HTMX for partial swaps).

Live data is HTMX polling, not SSE: the price block and whale feed re-fetch their own
partial every ``LIVE_PRICE_POLL_SECONDS`` and the chart asks for the bars since its last
one every ``LIVE_CANDLE_POLL_SECONDS``. The indexer lands new blocks in batches every few
seconds, so a push channel would deliver no fresher data, while holding one open
connection per viewer would tie up granian workers; polls are short cacheable GETs that
pass any proxy, and each stops when the browser leaves the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from market.models import Interval
from market.selectors import top_holders
from moonshots import selectors as moonshot_selectors
from ratings import selectors as rating_selectors
from ratings.models import GradeInterval, RiskFlag, Signal
from ratings.page_parts import RatingsTable, cached_part, ratings_table, token_page_parts
from ratings.page_selectors import (
    DEFAULT_SORT,
    SORT_KEYS,
    RatingsQuery,
    rating_of,
    ratings_market_time,
    token_by_address,
    token_candles,
    token_volatility_patterns,
    token_whale_feed,
)
from wallets.selectors import token_fundamentals, watchlist_default, watchlist_token_ids


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


TABS = (("all", "All"), ("moonshots", "Moonshots"), ("watchlist", "Watchlist"))

# (sort key, heading, unit shown under the heading)
COLUMNS = (
    ("token", "Token", ""),
    ("price", "Price", "USD"),
    ("change_24h", "24h", "%"),
    ("volume_24h", "Volume 24h", "USD"),
    ("market_cap", "Market cap", "USD, fully diluted"),
    ("liquidity", "Liquidity", "USD"),
    ("trader_grade", "Trader Grade", "0-100 · Δ24h / Δ7d"),
    ("investor_grade", "Investor Grade", "0-100 · Δ24h / Δ7d"),
    ("signal", "Signal", ""),
)


class RatingsFilterForm(forms.Form):
    """The ratings table's query string; invalid values are dropped, never a 400."""

    tab = forms.ChoiceField(choices=TABS, required=False)
    q = forms.CharField(label="Search", required=False, max_length=64)
    signal = forms.ChoiceField(label="Signal", choices=[("", "Any signal"), *Signal.choices], required=False)
    risk = forms.ChoiceField(
        label="Risk",
        choices=[("", "Any risk"), ("none", "No risk flags"), ("any", "Any risk flag"), *RiskFlag.Code.choices],
        required=False,
    )
    trader_min = forms.FloatField(label="Trader Grade from", min_value=0, max_value=100, required=False)
    trader_max = forms.FloatField(label="Trader Grade to", min_value=0, max_value=100, required=False)
    investor_min = forms.FloatField(label="Investor Grade from", min_value=0, max_value=100, required=False)
    investor_max = forms.FloatField(label="Investor Grade to", min_value=0, max_value=100, required=False)
    mcap_min = forms.FloatField(label="Market cap from (USD)", min_value=0, required=False)
    mcap_max = forms.FloatField(label="Market cap to (USD)", min_value=0, required=False)
    sort = forms.ChoiceField(choices=[(k, k) for k in SORT_KEYS], required=False)
    dir = forms.ChoiceField(choices=[("desc", "desc"), ("asc", "asc")], required=False)

    @classmethod
    def values_of(cls, query: QueryDict) -> dict[str, Any]:
        """Cleaned values of ``query``, each invalid field dropped rather than failing the page.

        Without building the form: a bound form deep-copies its fourteen fields (~0.5 ms, a
        tenth of a new table page), and only the page's head, which is cached per filter
        combination, shows the form itself. The class's fields are only read (the form has no
        ``clean()`` of its own)."""
        values = {}
        for name, field in cls.base_fields.items():
            try:
                values[name] = field.clean(field.widget.value_from_datadict(query, None, name))
            except ValidationError:
                continue
        return values


def _query_string(query: QueryDict, **changes: str | None) -> str:
    """``query`` with ``changes`` applied (None removes a key), as ``{% querystring %}`` writes it.
    (Not through ``QueryDict.copy()``: its deep copy was a tenth of a new ratings page's CPU.)"""
    params = dict(query.lists())
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = [value]
    pairs = [(key, value) for key, values in params.items() for value in values]
    return f"?{urlencode(pairs)}" if params or query else ""


def _column_headers(query: QueryDict, sort: str, descending: bool) -> list[dict[str, Any]]:
    """Each column's heading and the link that sorts by it (the same column again reverses the
    order); the links are built here rather than by a ``{% querystring %}`` tag per column,
    which cost more than the rest of the table's markup."""
    headers = []
    for key, label, unit in COLUMNS:
        active = key == sort
        next_dir = "asc" if active and descending else "desc"
        headers.append(
            {
                "key": key,
                "label": label,
                "unit": unit,
                "href": _query_string(query, sort=key, dir=next_dir, page=None),
                "aria_sort": ("descending" if descending else "ascending") if active else "none",
            }
        )
    return headers


def _pager_links(query: QueryDict, table: RatingsTable | None) -> dict[str, str]:
    """The pager's previous and next links, as ``{% querystring page=... %}`` wrote them (four
    tags per page, each deep-copying the query)."""
    if table is None:
        return {}
    pages = {"previous": table.previous_page_number, "next": table.next_page_number}
    return {name: _query_string(query, page=str(number)) for name, number in pages.items() if number}


RATINGS_TEMPLATE = "ratings/ratings_page.html"


# The query-string fields the page's head (title, tabs and filter form) shows.
HEAD_FIELDS = (
    "tab",
    "q",
    "signal",
    "risk",
    "trader_min",
    "trader_max",
    "investor_min",
    "investor_max",
    "mcap_min",
    "mcap_max",
)


def _tab(query: QueryDict) -> str:
    """The tab asked for, as ``RatingsFilterForm`` cleans it (an unknown tab is "all")."""
    tab = query.get("tab") or "all"
    return tab if tab in dict(TABS) else "all"


def _ratings_query(values: dict[str, Any], tab: str, watched: frozenset[int]) -> RatingsQuery:
    return RatingsQuery(
        search=values.get("q") or "",
        signal=values.get("signal") or "",
        risk=values.get("risk") or "",
        trader_min=values.get("trader_min"),
        trader_max=values.get("trader_max"),
        investor_min=values.get("investor_min"),
        investor_max=values.get("investor_max"),
        mcap_min=values.get("mcap_min"),
        mcap_max=values.get("mcap_max"),
        sort=values.get("sort") or DEFAULT_SORT,
        descending=(values.get("dir") or "desc") == "desc",
        token_ids=watched if tab == "watchlist" else None,
    )


@require_GET
@vary_on_headers("HX-Request")
def ratings_page(request: HtmxHttpRequest) -> HttpResponse:
    """Every token's market figures and grades; filter, sort and page through them.

    Queries do not grow with the rows shown: market time, plus the page's rows unless they
    were shown before (``ratings.page_parts``), plus the watchlist ids for a signed-in user.
    Signed out, the rendered table (and head) is cached per query string, so a repeat request
    only validates nothing and renders the page around the cached HTML.
    """
    tab = _tab(request.GET)
    as_of = ratings_market_time()
    table_only = bool(request.htmx and not request.htmx.history_restore_request)

    def content() -> str:
        """The head and table (or the table alone for an HTMX swap), rendered."""
        values = RatingsFilterForm.values_of(request.GET)
        watched = watchlist_token_ids(user=request.user)  # type: ignore[arg-type]
        query = _ratings_query(values, tab, watched)
        table = None
        if tab != "moonshots" and not (tab == "watchlist" and not request.user.is_authenticated):
            table = ratings_table(query=query, as_of=as_of, page=request.GET.get("page"))
        context = {
            **(_moonshots_context(request) if tab == "moonshots" else {}),
            "tab": tab,
            "tabs": TABS,
            "table": table,
            "watched": watched,
            "as_of": as_of,
            "headers": _column_headers(request.GET, query.sort, query.descending),
            "pager": _pager_links(request.GET, table),
            # what the filter form's sort and dir fields hold (the raw values, as a bound form shows them)
            "sort_value": request.GET.get("sort"),
            "dir_value": request.GET.get("dir"),
            "sort": query.sort,
        }
        html = render_to_string(f"{RATINGS_TEMPLATE}#ratings-table", context, request)
        if table_only:
            return html
        # The head shows only the filters (not the order or page, which the table's links
        # carry), so it is rendered once per filter combination and market time; only then
        # is the form built.
        head = cached_part(
            name="ratings-head",
            depends_on=(*((name, request.GET.getlist(name)) for name in HEAD_FIELDS), as_of),
            build=lambda: str(
                render_to_string(
                    f"{RATINGS_TEMPLATE}#ratings-head", {**context, "form": RatingsFilterForm(request.GET)}, request
                )
            ),
        )
        return f"{head}\n\n{html}"

    if tab == "all" and not request.user.is_authenticated:
        # Signed out, the part depends only on the query string, the graded data and the
        # market time; the CSRF token and header are rendered around it per request.
        part = "table" if table_only else "content"
        html = cached_part(name=f"ratings-html-{part}", depends_on=(request.get_full_path(), as_of), build=content)
    else:
        html = content()
    if table_only:
        return HttpResponse(html)
    return _ratings_page_response(request, html)


# The page around the table for a signed-out visitor with no messages (header, footer) is the
# same for all of them but for the CSRF token: rendered once per process and URL prefix, split
# where the token and the content go. (before the token, between it and the content, after)
_SHELLS: dict[str, tuple[str, str, str]] = {}
_TOKEN_MARK = "csrftokenmark8d1f0c"
_CONTENT_MARK = "contentmark8d1f0c"


def _ratings_page_response(request: HttpRequest, content: str) -> HttpResponse:
    """The whole page around ``content`` (rendered by the template engine, or trusted HTML).

    Rendering ``base.html`` per request (template inheritance, the header's conditions, the
    static URLs) was half the CPU of a cached ratings page; for a signed-out visitor with no
    messages it is filled in from the process's shell instead, byte for byte the same.
    """
    if request.user.is_authenticated or get_messages(request) or settings.DEBUG:
        return render(request, RATINGS_TEMPLATE, {"content": mark_safe(content)})
    prefix = get_script_prefix()
    shell = _SHELLS.get(prefix)
    if shell is None:
        marks = {"content": mark_safe(_CONTENT_MARK), "csrf_token": _TOKEN_MARK}  # override the context processor
        page = render_to_string(RATINGS_TEMPLATE, marks, request)
        before, rest = page.split(_TOKEN_MARK)
        between, after = rest.split(_CONTENT_MARK)
        shell = _SHELLS[prefix] = (before, between, after)
    before, between, after = shell
    return HttpResponse(f"{before}{get_token(request)}{between}{content}{after}")


@receiver(setting_changed)
def _shells_forget(**kwargs: Any) -> None:
    _SHELLS.clear()  # the site name, static files or the templates may differ now


def ratings_first_pages() -> list[str]:
    """Query strings of page 1 in each order, as the column headers link to them from the
    unfiltered table (plus the bare page): where most visitors start."""
    empty = QueryDict()
    return ["", *(_query_string(empty, sort=key, dir=d) for key, _, _ in COLUMNS for d in ("desc", "asc"))]


def ratings_first_pages_warm() -> int:
    """Render ``ratings_first_pages()`` for signed-out visitors into the page cache, as full
    pages and as the HTMX table swaps the headers ask for; returns the renders done.

    Run after new grades land (``ratings.tasks.warm_ratings_pages_task``), so the first
    visitor of each order gets a cached page instead of building the table. The view itself
    renders them (a request built here, no user, no session), so the cached HTML is exactly
    what it would have cached; pages already cached for this data version are left alone.
    """
    factory = RequestFactory()
    path = reverse("ratings:ratings_page")
    done = 0
    for query in ratings_first_pages():
        for headers in ({}, {"HX-Request": "true"}):
            request = factory.get(path + query, headers=headers)
            request.user = AnonymousUser()
            request.htmx = HtmxDetails(request)  # type: ignore[attr-defined]
            ratings_page(request)  # type: ignore[arg-type]
            done += 1
    return done


def _swap_url() -> str | None:
    """The swap page's path when the swap app is installed, else None (Buy links to the token page)."""
    try:
        return reverse("swaps:swap_page")
    except NoReverseMatch:
        return None


def _moonshots_context(request: HttpRequest) -> dict[str, Any]:
    """The Moonshots tab: open picks with live ROI, past picks (``?past=1``), the track record."""
    chain_id = settings.CHAIN_ID
    show_past = request.GET.get("past") == "1"
    now = moonshot_selectors.market_now(chain_id=chain_id)
    picks = moonshot_selectors.moonshots_closed if show_past else moonshot_selectors.moonshots_open
    return {
        "moonshot_rows": moonshot_selectors.moonshot_rows(picks=picks(chain_id=chain_id), now=now),
        "moonshot_past": show_past,
        "moonshot_now": now,
        "track_record": moonshot_selectors.moonshot_track_record(chain_id=chain_id),
        "swap_url": _swap_url(),
        "max_market_cap_usd": settings.MOONSHOT_MAX_MARKET_CAP_USD,
    }


def _get_token(chain_id: int, address: str) -> Any:
    token = token_by_address(chain_id=chain_id, address=address)
    if token is None:
        raise Http404("no such token")
    return token


def _interval(request: HttpRequest) -> str:
    interval = request.GET.get("interval", Interval.HOUR)
    return interval if interval in Interval.values else Interval.HOUR


@require_GET
@vary_on_headers("HX-Request")
def token_page(request: HtmxHttpRequest, chain_id: int, address: str) -> HttpResponse:
    """One token: chart, grades and why, signals, data points, holders, whales, risks.

    The chart, grades, patterns, data points, holders and whales come rendered from
    ``ratings.page_parts`` (cached until new grades or a new market block; holders and whales
    for at most the live-poll interval); fundamentals and the watchlist button are read per
    request.
    """
    token = _get_token(chain_id, address)
    rating = rating_of(token)
    template = "ratings/token_page.html"
    live = {"token": token, "rating": rating, "poll_seconds": settings.LIVE_PRICE_POLL_SECONDS}
    if request.htmx and not request.htmx.history_restore_request:
        # The live blocks poll themselves; answer them without the rest of the page's reads.
        part = request.GET.get("part")
        if part == "token-price":
            return render(request, template + "#token-price", live)
        if part == "whale-feed":
            return render(request, template + "#whale-feed", {**live, "whales": list(token_whale_feed(token=token))})
    interval = _interval(request)

    def live_context() -> dict[str, Any]:
        """Holders and whales, for their cached part (kept for the live-poll interval)."""
        holders = list(top_holders(token=token, limit=20))
        supply = token.total_supply or 0
        holder_rows = [(h, (h.balance / supply) if supply else None, token.units(h.balance)) for h in holders]
        return {**live, "request": request, "holders": holder_rows, "whales": list(token_whale_feed(token=token))}

    def heavy_context() -> dict[str, Any]:
        """What the cached parts show: run only when they are not in the cache."""
        grades = [
            {"time": int(g.at.timestamp()), "trader": g.trader_grade, "investor": g.investor_grade}
            for g in rating_selectors.grade_history(token=token, interval=GradeInterval.HOUR, limit=720)
        ]
        return {
            **live,
            "chart_data": {
                "candles_url": request.path + "candles.json",
                "interval": interval,
                "candles": token_candles(token=token, interval=interval),
                "grades": grades,
                "poll_seconds": settings.LIVE_CANDLE_POLL_SECONDS,
            },
            "interval": interval,
            "intervals": Interval.choices,
            "data_points": rating_selectors.token_data_points(token=token),
            "signals": list(rating_selectors.signal_history(token=token)[:20]),
            "anomalies": list(rating_selectors.token_anomalies(token=token, limit=20)),
            "risk_flags": list(rating_selectors.token_risk_flags(token=token)),
            "patterns": token_volatility_patterns(token=token),
        }

    parts = token_page_parts(
        token=token,
        rating=rating,
        path=request.path,
        interval=interval,
        build_context=heavy_context,
        build_live_context=live_context,
    )
    context = {
        **live,
        "parts": parts,
        # Editorial text, not per user (the staff-only link around it is rendered per request).
        "fundamentals": cached_part(
            name="token-fundamentals",
            depends_on=(token.pk,),
            ttl=settings.LIVE_PRICE_POLL_SECONDS,
            build=lambda: token_fundamentals(token=token),
        ),
        "watched": token.pk in watchlist_token_ids(user=request.user),  # type: ignore[arg-type]
        "watchlist": watchlist_default(user=request.user),  # type: ignore[arg-type]
    }
    return render(request, template, context)


@require_GET
def token_candles_json(request: HttpRequest, chain_id: int, address: str) -> JsonResponse:
    """Chart bars as JSON for the live chart: ``?interval=1h&since=<unix seconds>``."""
    token = _get_token(chain_id, address)
    since = None
    if request.GET.get("since", "").isdigit():
        since = datetime.fromtimestamp(int(request.GET["since"]), tz=UTC)
    candles = token_candles(token=token, interval=_interval(request), since=since)
    return JsonResponse({"interval": _interval(request), "unit": "USD", "candles": candles})
