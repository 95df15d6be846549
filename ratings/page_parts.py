"""Rendered parts of the ratings table and the token page, cached in the default cache (Redis).

A part is cached under a key made of the API's *data version* (``tmsite.api.caching``,
replaced by ``ratings_compute`` when new grades land) and everything else its HTML depends
on: the table's validated filters, order and page plus the market time (the newest
``Token.market_updated_at``, which moves whenever the indexer stores new prices); a token
page part's token, market block and rating time. New grades or prices therefore change the
key, so the next request renders afresh; ``PAGE_CACHE_TTL`` (seconds) bounds how long an
entry lives otherwise. Parts carry no per-user state: watchlist stars, the signed-in header,
the CSRF token, holders and the whale feed are rendered per request around them.

The table rows are formatted in Python (``format_html``) rather than by the template
engine: a page of 50 rows took ~30 ms through ~1,500 template nodes and takes ~2 ms here,
which is what a cache miss (a filter combination nobody asked for since the last grades)
costs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from market.models import Token
from ratings.models import Signal, TokenRating
from ratings.page_selectors import RatingsQuery, rating_of, ratings_rows
from tmsite.api.caching import data_version
from wallets.templatetags.site_format import grade, short_address, signed, trend, usd_compact, usd_price

T = TypeVar("T")

SIGNAL_LABELS = dict(Signal.choices)


def cached_part(*, name: str, depends_on: tuple[Any, ...], build: Callable[[], T], ttl: int | None = None) -> T:
    """``build()``'s value, from the cache while the data version and ``depends_on`` are unchanged.

    ``depends_on`` must name everything the value depends on besides the graded data (whose
    changes the data version tracks); it must never include anything per-user. ``ttl`` in
    seconds, ``PAGE_CACHE_TTL`` by default; 0 turns caching off.
    """
    ttl = settings.PAGE_CACHE_TTL if ttl is None else min(ttl, settings.PAGE_CACHE_TTL)
    if not ttl:
        return build()
    digest = hashlib.sha256(repr((data_version(), *depends_on)).encode()).hexdigest()
    key = f"pages:{name}:{digest}"
    entry = cache.get(key)  # a 1-tuple, so that None is a value that can be cached too
    if entry is None:
        entry = (build(),)
        cache.set(key, entry, ttl)
    return entry[0]


# --- Ratings table ------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingsRow:
    """One table row without its watchlist cell (``pk`` and ``symbol`` are what that cell needs)."""

    pk: int
    symbol: str
    cells: str  # HTML of the row's cells after the watchlist column


@dataclass(frozen=True)
class RatingsTable:
    """One page of the ratings table: counts for the caption and pager, and the rows."""

    count: int  # tokens matching the filters
    number: int  # this page, 1-based
    num_pages: int
    rows: list[RatingsRow]
    graded_from: datetime | None  # oldest and newest ``computed_at`` (market time) of the page's grades
    graded_until: datetime | None

    @property
    def has_other_pages(self) -> bool:
        return self.num_pages > 1

    @property
    def previous_page_number(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next_page_number(self) -> int | None:
        return self.number + 1 if self.number < self.num_pages else None

    def rows_html(self) -> list[tuple[RatingsRow, SafeString]]:
        return [(row, mark_safe(row.cells)) for row in self.rows]  # built by format_html


def _change_cell(column: str, value: float | None, digits: int = 1, suffix: str = "") -> SafeString:
    text = "—" if value is None else f"{signed(value, digits)}{suffix}"
    return format_html('<td data-col="{}" class="{}">{}</td>', column, trend(value), text)


def _grade_cell(column: str, value: float, change_24h: float | None, change_7d: float | None) -> SafeString:
    return format_html(
        '<td data-col="{}"><span class="grade">{}</span>\n'
        '<span class="delta"><span class="{}">{}</span> / <span class="{}">{}</span></span></td>',
        column,
        grade(value),
        trend(change_24h),
        signed(change_24h),
        trend(change_7d),
        signed(change_7d),
    )


def ratings_row_cells(token: Token, rating: TokenRating | None, *, token_url: str) -> SafeString:
    """The row's cells: token, market columns (``row_*`` annotations), grades, signal, risk flags."""
    row: Any = token
    cells = [
        format_html(
            '<th scope="row" class="token-cell">\n<a href="{}">{}</a>\n<span class="muted name">{}</span>\n</th>',
            token_url,
            short_address(token.symbol or token.address),
            token.name,
        ),
        format_html('<td data-col="price">{}</td>', usd_price(row.row_price_usd)),
        _change_cell("change_24h", row.row_change_24h, 2, "%"),
        format_html('<td data-col="volume_24h">{}</td>', usd_compact(row.row_volume_24h_usd)),
        format_html('<td data-col="market_cap">{}</td>', usd_compact(row.row_market_cap_usd)),
        format_html('<td data-col="liquidity">{}</td>', usd_compact(row.row_liquidity_usd)),
    ]
    if rating is None:
        cells.append(
            mark_safe(  # constant markup
                '<td data-col="trader_grade" class="muted">not rated</td>'
                '<td data-col="investor_grade" class="muted">—</td>'
                '<td data-col="signal" class="muted">—</td><td class="muted">—</td>'
            )
        )
    else:
        flags = (
            format_html_join("", '<span class="flag">{}</span>', ((flag,) for flag in rating.risk_flags))
            if rating.risk_flags
            else mark_safe('<span class="muted">none</span>')
        )
        cells += [
            _grade_cell(
                "trader_grade", rating.trader_grade, rating.trader_grade_change_24h, rating.trader_grade_change_7d
            ),
            _grade_cell(
                "investor_grade",
                rating.investor_grade,
                rating.investor_grade_change_24h,
                rating.investor_grade_change_7d,
            ),
            format_html(
                '<td data-col="signal"><span class="signal signal-{}">{}</span></td>',
                rating.signal,
                SIGNAL_LABELS.get(rating.signal, rating.signal),
            ),
            format_html('<td class="flags">{}</td>', flags),
        ]
    return mark_safe("\n".join(cells))  # each part escaped by format_html


def _ratings_table_build(*, query: RatingsQuery, as_of: datetime | None, page: str | None) -> RatingsTable:
    rows_query = ratings_rows(query=query, as_of=as_of)

    def order() -> list[int]:
        return list(rows_query.values_list("pk", flat=True))

    # The whole order as ids, cached apart from the page: sorting every token is the costly
    # query, and each page of the same filters and order then needs only its rows, read by
    # primary key. The count is the list's length.
    if query.token_ids is None:
        ids_in_order = cached_part(name="ratings-order", depends_on=(query, as_of), build=order)
    else:
        ids_in_order = order()
    paginator = Paginator(ids_in_order, settings.RATINGS_PAGE_SIZE)
    current = paginator.get_page(page)
    ids = list(current.object_list)
    by_id = {token.pk: token for token in rows_query.filter(pk__in=ids)} if ids else {}
    # One reverse() for the page; the address is the only part that differs between rows.
    url_pattern = reverse("ratings:token_page", args=[0, "ADDRESS"])
    rows, graded = [], []
    for token in (by_id[pk] for pk in ids if pk in by_id):
        url = url_pattern.replace("/0/", f"/{token.chain_id}/", 1).replace("ADDRESS", token.address)
        rating = rating_of(token)
        if rating is not None:
            graded.append(rating.computed_at)
        rows.append(RatingsRow(token.pk, token.symbol, ratings_row_cells(token, rating, token_url=url)))
    return RatingsTable(
        count=paginator.count,
        number=current.number,
        num_pages=paginator.num_pages,
        rows=rows,
        graded_from=min(graded, default=None),
        graded_until=max(graded, default=None),
    )


def ratings_table(*, query: RatingsQuery, as_of: datetime | None, page: str | None) -> RatingsTable:
    """A page of the ratings table; cached unless restricted to a user's tokens (watchlist tab).

    Queries on a miss: the order of every matching token (once per filters and order), then
    the page's rows by primary key; on a hit, none.
    """
    if query.token_ids is not None:
        return _ratings_table_build(query=query, as_of=as_of, page=page)
    return cached_part(
        name="ratings-table",
        depends_on=(query, as_of, page, settings.RATINGS_PAGE_SIZE),
        build=lambda: _ratings_table_build(query=query, as_of=as_of, page=page),
    )


# --- Token page ---------------------------------------------------------------------------

TOKEN_PAGE_PARTS = ("token-chart", "token-grades", "token-patterns", "token-data-points")
TOKEN_PAGE_LIVE_PARTS = ("token-holders",)  # top holders and the first render of the whale feed


def _token_parts_render(names: tuple[str, ...], context: dict[str, Any]) -> dict[str, str]:
    return {
        name.removeprefix("token-").replace("-", "_"): str(render_to_string(f"ratings/token_page.html#{name}", context))
        for name in names
    }


def token_page_parts(
    *,
    token: Token,
    rating: TokenRating | None,
    path: str,
    interval: str,
    build_context: Callable[[], dict[str, Any]],
    build_live_context: Callable[[], dict[str, Any]],
) -> dict[str, SafeString]:
    """The token page's parts, rendered: chart data, grades and signals, patterns, data points,
    holders and whales.

    The first four change only when new grades land (data version) or the indexer moves the
    token's market state (``market_block``, which also carries new candles). Holders and
    whale transfers can also change in a block that moves neither (a transfer between
    existing holders), so they are kept at most ``LIVE_PRICE_POLL_SECONDS``, the refresh the
    page states for its live blocks. ``build_context()`` / ``build_live_context()`` run
    their queries on a miss only. ``path`` is the request path the parts link back to.
    """
    market = (token.pk, path, token.market_block, token.market_updated_at)
    parts = cached_part(
        name="token-page",
        depends_on=(*market, rating.computed_at if rating else None, interval),
        build=lambda: _token_parts_render(TOKEN_PAGE_PARTS, build_context()),
    )
    live = cached_part(
        name="token-page-live",
        depends_on=market,
        ttl=settings.LIVE_PRICE_POLL_SECONDS,
        build=lambda: _token_parts_render(TOKEN_PAGE_LIVE_PARTS, build_live_context()),
    )
    return {name: mark_safe(html) for name, html in (parts | live).items()}  # rendered by the template engine
