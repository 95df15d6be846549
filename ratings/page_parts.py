"""Rendered parts of the ratings table and the token page, cached in the default cache (Redis).

A part is cached under a key made of the API's *data version* (``tmsite.api.caching``,
replaced by ``ratings_compute`` when new grades land) and everything else its HTML depends
on: the ratings page's query string plus the market time (the newest
``Token.market_updated_at``, which moves whenever the indexer stores new prices); a token
page part's token, market block and rating time. New grades or prices therefore change the
key, so the next request renders afresh; ``PAGE_CACHE_TTL`` (seconds) bounds how long an
entry lives otherwise. Parts carry no per-user state: watchlist stars, the signed-in header,
the CSRF token, holders and the whale feed are rendered per request around them.

The ratings table itself is not cached here: it is filtered, sorted and paged in memory from
the web process's snapshot of every token's filter and sort columns (``ratings.page_index``),
so a page nobody asked for since the last grades costs at most one query (its rows). Its rows are formatted in Python
(``format_html``) rather than by the template engine (a page of 50 rows took ~30 ms through
~1,500 template nodes) and each row is kept formatted for the life of the snapshot.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any, NamedTuple, TypeVar

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from market.models import Token
from ratings.models import Signal, TokenRating
from ratings.page_index import MARKET_COLUMNS, RatingsIndex, ratings_index
from ratings.page_selectors import RatingsQuery
from tmsite.api.caching import VERSION_KEY, data_version
from tmsite.api.compiled import CompiledSql
from wallets.templatetags.site_format import grade, short_address, signed, trend, usd_compact, usd_price

T = TypeVar("T")

SIGNAL_LABELS = dict(Signal.choices)


def cached_part(*, name: str, depends_on: tuple[Any, ...], build: Callable[[], T], ttl: int | None = None) -> T:
    """``build()``'s value, from the cache while the data version and ``depends_on`` are unchanged.

    ``depends_on`` must name everything the value depends on besides the graded data (whose
    changes the data version tracks); it must never include anything per-user. ``ttl`` in
    seconds, ``PAGE_CACHE_TTL`` by default; 0 turns caching off. The entry carries the data
    version it was built under (rather than the version being part of its key), so the
    version and the entry come back in one cache round trip.
    """
    ttl = settings.PAGE_CACHE_TTL if ttl is None else min(ttl, settings.PAGE_CACHE_TTL)
    if not ttl:
        return build()
    key = f"pages:{name}:{hashlib.sha256(repr(depends_on).encode()).hexdigest()}"
    found = cache.get_many([VERSION_KEY, key])
    version = found.get(VERSION_KEY) or data_version()
    entry = found.get(key)  # (data version, value)
    if entry is None or entry[0] != version:
        entry = (version, build())
        cache.set(key, entry, ttl)
    return entry[1]


# --- Ratings table ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RatingsRow:
    """One table row without its watchlist cell (``pk`` and ``symbol`` are what that cell needs).
    Slotted: a snapshot keeps up to one per token, and the garbage collector walks each."""

    pk: int
    symbol: str
    cells: str  # HTML of the row's cells after the watchlist column
    computed_at: datetime | None  # when the row's grades were computed; None when not rated


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
        return [(row, mark_safe(row.cells)) for row in self.rows]  # text escaped by ratings_row_cells

    def rows_joined(self) -> SafeString:
        """Every row without a watchlist cell, as one string (a template loop over 50 rows costs more)."""
        return mark_safe(  # symbols escaped here, cells by ratings_row_cells
            "\n".join(f'<tr data-symbol="{escape(row.symbol)}">\n{row.cells}\n</tr>' for row in self.rows)
        )


class RowValues(NamedTuple):
    """What one table row shows: the snapshot's market columns (units as in
    ``page_selectors.ratings_rows``: USD, percent) and the rating's grades, None when unrated."""

    pk: int
    chain_id: int
    symbol: str
    name: str
    address: str
    price_usd: float | None
    change_24h: float | None
    volume_24h_usd: float | None
    market_cap_usd: float | None
    liquidity_usd: float | None
    rated: bool
    trader_grade: float | None
    trader_grade_change_24h: float | None
    trader_grade_change_7d: float | None
    investor_grade: float | None
    investor_grade_change_24h: float | None
    investor_grade_change_7d: float | None
    signal: str
    risk_flags: list[str]
    computed_at: datetime | None


# Rows are formatted with f-strings and ``html.escape`` (what ``format_html`` does per
# argument, at a fifth of the cost): a table miss formats up to 50 of them. The figures come
# from the number filters (digits, sign, "$", ",", ".", "e", a unit letter or a dash) and the
# CSS classes from ``trend``, none of which HTML escaping changes, so only the token's own
# text (symbol, name, address, signal, risk flags) is escaped.
_UNRATED_CELLS = (
    '<td data-col="trader_grade" class="muted">not rated</td>'
    '<td data-col="investor_grade" class="muted">—</td>'
    '<td data-col="signal" class="muted">—</td><td class="muted">—</td>'
)


def _change_cell(column: str, value: float | None, digits: int = 1, suffix: str = "") -> str:
    text = "—" if value is None else f"{signed(value, digits)}{suffix}"
    return f'<td data-col="{column}" class="{trend(value)}">{text}</td>'


def _grade_cell(column: str, value: float | None, change_24h: float | None, change_7d: float | None) -> str:
    return (
        f'<td data-col="{column}"><span class="grade">{grade(value)}</span>\n'
        f'<span class="delta"><span class="{trend(change_24h)}">{signed(change_24h)}</span> / '
        f'<span class="{trend(change_7d)}">{signed(change_7d)}</span></span></td>'
    )


def ratings_row_cells(row: RowValues, *, token_url: str) -> SafeString:
    """The row's cells: token, market columns, grades, signal, risk flags (text escaped)."""
    cells = [
        f'<th scope="row" class="token-cell">\n<a href="{escape(token_url)}">'
        f"{escape(short_address(row.symbol or row.address))}</a>\n"
        f'<span class="muted name">{escape(row.name)}</span>\n</th>',
        f'<td data-col="price">{usd_price(row.price_usd)}</td>',
        _change_cell("change_24h", row.change_24h, 2, "%"),
        f'<td data-col="volume_24h">{usd_compact(row.volume_24h_usd)}</td>',
        f'<td data-col="market_cap">{usd_compact(row.market_cap_usd)}</td>',
        f'<td data-col="liquidity">{usd_compact(row.liquidity_usd)}</td>',
    ]
    if not row.rated:
        cells.append(_UNRATED_CELLS)
    else:
        flags = (
            "".join(f'<span class="flag">{escape(str(flag))}</span>' for flag in row.risk_flags)
            if row.risk_flags
            else '<span class="muted">none</span>'
        )
        signal = escape(row.signal)
        cells += [
            _grade_cell("trader_grade", row.trader_grade, row.trader_grade_change_24h, row.trader_grade_change_7d),
            _grade_cell(
                "investor_grade", row.investor_grade, row.investor_grade_change_24h, row.investor_grade_change_7d
            ),
            f'<td data-col="signal"><span class="signal signal-{signal}">'
            f"{escape(str(SIGNAL_LABELS.get(row.signal, row.signal)))}</span></td>",
            f'<td class="flags">{flags}</td>',
        ]
    return mark_safe("\n".join(cells))  # every text part escaped above


# The page's rows' display columns besides the snapshot's market columns, in ``RowValues`` order.
_DISPLAY_COLUMNS = (
    "pk",
    "chain_id",
    "symbol",
    "name",
    "address",
    "rating__id",
    "rating__trader_grade",
    "rating__trader_grade_change_24h",
    "rating__trader_grade_change_7d",
    "rating__investor_grade",
    "rating__investor_grade_change_24h",
    "rating__investor_grade_change_7d",
    "rating__signal",
    "rating__risk_flags",
    "rating__computed_at",
)


# SQL of the display columns for n primary keys, per database and n: building it through
# the ORM cost more CPU than running it (~1 ms a page).
_ROWS_SQL: dict[tuple[str, int], CompiledSql] = {}


def _display_rows(ids: list[int]) -> list[tuple[Any, ...]]:
    """``_DISPLAY_COLUMNS`` of these tokens, in no particular order: one query, its SQL built
    once per page length and run through a plain cursor with the ORM's own converters."""
    key = (connection.vendor, len(ids))
    found = _ROWS_SQL.get(key)
    if found is None:
        placeholder = range(1, len(ids) + 1)
        found = CompiledSql.of(Token.objects.filter(pk__in=placeholder).values_list(*_DISPLAY_COLUMNS))
        if list(found.params) != list(placeholder):  # not the shape expected: the ORM's own way
            return list(Token.objects.filter(pk__in=ids).values_list(*_DISPLAY_COLUMNS))
        _ROWS_SQL[key] = found
    return found.rows(ids)


def _figure(value: float) -> float | None:
    return None if math.isnan(value) else value


def _format_rows(index: RatingsIndex, positions: list[int]) -> None:
    """Format the rows at these snapshot positions into the snapshot: one query for what only the row shows."""
    position = {int(index.pk[n]): n for n in positions}
    # The page's market figures, NaN (NULL) as None, in one pass per column.
    figures = {
        column: dict(zip(position, map(_figure, index.numbers[column][positions].tolist()), strict=True))
        for column in MARKET_COLUMNS
    }
    price, change, volume, market_cap, liquidity = (figures[c] for c in MARKET_COLUMNS)
    # One reverse() for the page; the address is the only part that differs between rows.
    url_pattern = reverse("ratings:token_page", args=[0, "ADDRESS"])
    for row in _display_rows(list(position)):
        pk, chain_id, symbol, name, address, rating_id = row[:6]
        computed_at = row[14]
        values = RowValues(
            pk=pk,
            chain_id=chain_id,
            symbol=symbol,
            name=name,
            address=address,
            price_usd=price[pk],
            change_24h=change[pk],
            volume_24h_usd=volume[pk],
            market_cap_usd=market_cap[pk],
            liquidity_usd=liquidity[pk],
            rated=rating_id is not None,
            trader_grade=row[6],
            trader_grade_change_24h=row[7],
            trader_grade_change_7d=row[8],
            investor_grade=row[9],
            investor_grade_change_24h=row[10],
            investor_grade_change_7d=row[11],
            signal=row[12] or "",
            risk_flags=row[13] or [],
            computed_at=computed_at,
        )
        url = url_pattern.replace("/0/", f"/{chain_id}/", 1).replace("ADDRESS", address)
        index.formatted[pk] = RatingsRow(pk, symbol, ratings_row_cells(values, token_url=url), computed_at)


def ratings_table(*, query: RatingsQuery, as_of: datetime | None, page: str | None) -> RatingsTable:
    """A page of the ratings table, filtered, sorted and paged in memory (``ratings.page_index``).

    Queries: one for the page's rows not yet formatted in this process's snapshot (none once
    they are), plus one (every token's columns) when the snapshot is rebuilt and one per
    risk-flag code the first time a snapshot filters by it.
    """
    index = ratings_index(as_of=as_of)
    paginator = Paginator(index.positions(query), settings.RATINGS_PAGE_SIZE)
    current = paginator.get_page(page)
    positions = np.asarray(current.object_list, dtype=np.intp)
    ids = index.pk[positions].tolist()
    missing = [int(n) for n, pk in zip(positions.tolist(), ids, strict=True) if pk not in index.formatted]
    if missing:
        _format_rows(index, missing)
    rows = [index.formatted[pk] for pk in ids if pk in index.formatted]  # a token deleted since goes
    graded = [row.computed_at for row in rows if row.computed_at is not None]
    return RatingsTable(
        count=paginator.count,
        number=current.number,
        num_pages=paginator.num_pages,
        rows=rows,
        graded_from=min(graded, default=None),
        graded_until=max(graded, default=None),
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
