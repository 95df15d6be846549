"""The ratings table's filter and sort columns, held in memory per web process (numpy arrays).

Why: a ratings page nobody asked for since the last grades (any mix of filters, order and
page) used to sort every matching token in the database, ~15-30 ms of PostgreSQL under load
plus reading back every id, and 16 clients on two cores queued behind those sorts. Here one
query (``ratings_rows``, the same row definition the table always had) reads every token's
filter and sort columns once per *snapshot*; every filter, order and page after that is a
few vector operations over the tokens, well under a millisecond. Only the page's rows are
then read, by primary key, and kept formatted with the snapshot (``ratings.page_parts``).

A snapshot is keyed like the cached page parts (``ratings.page_parts``): the API's data
version (replaced whenever grades or risk flags land) and the market time (the newest
``Token.market_updated_at``, which moves whenever the indexer stores new prices); it is also
rebuilt once it is ``PAGE_CACHE_TTL`` seconds old, the bound every cached part has. Threads
of a process share one snapshot; the first request after a change builds it while the others
wait for it rather than run the same query.

Orders match the database's: nulls last in both directions, ties broken by primary key, and
the token column ranked by the database's own ``ORDER BY symbol`` (its collation), read in
the snapshot query. Memory: ~250 bytes per token (columns and the orders asked for), plus
~1 KB per row once it has been shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from numpy.typing import NDArray

from market.models import Token
from ratings.models import RiskFlag
from ratings.page_selectors import DEFAULT_SORT, SORT_KEYS, RatingsQuery, ratings_rows
from tmsite.api.caching import data_version

# The snapshot query's columns: what the filters and orders read, nothing only shown.
_COLUMNS = (
    "pk",
    "symbol",
    "holder_count",
    "row_price_usd",
    "row_change_24h",
    "row_volume_24h_usd",
    "row_market_cap_usd",
    "row_liquidity_usd",
    "rating__trader_grade",
    "rating__investor_grade",
    "rating__signal",
    "no_risk_flags",  # True: rated without flags; False: rated with flags; None: not rated
)

# The market columns a row shows, as the snapshot holds them (``ratings_rows``' ``row_*``).
MARKET_COLUMNS = (
    "row_price_usd",
    "row_change_24h",
    "row_volume_24h_usd",
    "row_market_cap_usd",
    "row_liquidity_usd",
)

# Public sort keys -> the numeric column they order by (the token and signal columns are
# ranked differently, below).
_NUMERIC_SORTS = {key: column for key, column in SORT_KEYS.items() if key not in ("token", "signal")}


def _floats(values: Sequence[Any]) -> NDArray[np.float64]:
    """A float column with NULL as NaN (compares False with any bound, as NULL does in SQL)."""
    return np.array(values, dtype=np.float64)  # None becomes NaN


@dataclass
class RatingsIndex:
    """Every token's filter and sort columns at one data version and market time.

    Rows are held in the database's symbol order; a row's *position* indexes every array.
    """

    key: tuple[Any, ...]
    built_at: float  # time.monotonic()
    as_of: datetime | None
    pk: NDArray[np.int64]
    numbers: dict[str, NDArray[np.float64]]  # ``_COLUMNS`` name -> column, NaN for NULL
    symbol_rank: NDArray[np.float64]  # equal symbols share a rank
    signal_rank: NDArray[np.float64]  # NaN when unrated
    signal: NDArray[np.str_]
    flagged: NDArray[np.bool_]  # rated, and the rating lists at least one risk flag
    _orders: dict[tuple[str, bool], NDArray[np.intp]] = field(default_factory=dict)
    _risk_codes: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    _search: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    _haystack: list[tuple[str, str, str]] | None = None
    formatted: dict[int, Any] = field(default_factory=dict)  # pk -> the row as shown (``page_parts``)

    @classmethod
    def build(cls, *, key: tuple[Any, ...], as_of: datetime | None) -> RatingsIndex:
        """One query: every token's columns, ordered by symbol so the token column's order is the database's."""
        query = (
            ratings_rows(query=RatingsQuery(), as_of=as_of)
            .annotate(no_risk_flags=ExpressionWrapper(Q(rating__risk_flags=[]), output_field=BooleanField()))
            .order_by("symbol", "pk")
            .values_list(*_COLUMNS)
        )
        # Read through a plain cursor: the columns go straight into arrays, and Django's per-value
        # converters cost more than the query on 10,000 rows.
        sql, params = query.query.sql_with_params()
        postgresql = connection.vendor == "postgresql"
        with transaction.atomic() if postgresql else nullcontext(), connection.cursor() as cursor:
            if postgresql:
                # The planner's cost estimate of the fallback subqueries switches JIT compilation
                # on, which costs more (~40 ms) than the whole query takes to run.
                cursor.execute("SET LOCAL jit = off")
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in _COLUMNS]
        by_name = dict(zip(_COLUMNS, columns, strict=True))
        symbols = by_name["symbol"]
        symbol_rank = np.zeros(len(rows), dtype=np.float64)
        for i in range(1, len(rows)):
            symbol_rank[i] = symbol_rank[i - 1] + (symbols[i] != symbols[i - 1])
        signals = [s or "" for s in by_name["rating__signal"]]
        signal_order = {s: n for n, s in enumerate(sorted({s for s in signals if s}))}
        return cls(
            key=key,
            built_at=time.monotonic(),
            as_of=as_of,
            pk=np.array(by_name["pk"], dtype=np.int64),
            numbers={name: _floats(by_name[name]) for name in _NUMERIC_SORTS.values()},
            symbol_rank=symbol_rank,
            signal_rank=np.array([signal_order[s] if s else np.nan for s in signals], dtype=np.float64),
            signal=np.array(signals, dtype=np.str_),
            # False (0 on SQLite): rated with flags; None: not rated
            flagged=np.array([flag is not None and not flag for flag in by_name["no_risk_flags"]], dtype=np.bool_),
        )

    def order(self, sort: str, descending: bool) -> NDArray[np.intp]:
        """Positions of every row in this order: nulls last either way, ties by primary key."""
        memo = self._orders.get((sort, descending))
        if memo is not None:
            return memo
        if sort == "token":
            values = self.symbol_rank
        elif sort == "signal":
            values = self.signal_rank
        else:
            values = self.numbers[_NUMERIC_SORTS.get(sort, _NUMERIC_SORTS[DEFAULT_SORT])]
        nulls = np.isnan(values)
        keys = np.where(nulls, 0.0, -values if descending else values)
        order = np.lexsort((self.pk, keys, nulls))  # last key sorts first
        self._orders[(sort, descending)] = order
        return order

    def matching(self, query: RatingsQuery) -> NDArray[np.bool_]:
        """Which rows pass the query's filters (the ``ratings_rows`` filters, in memory)."""
        mask = np.ones(len(self.pk), dtype=np.bool_)
        if query.token_ids is not None:
            mask &= np.isin(self.pk, np.fromiter(query.token_ids, dtype=np.int64))
        if query.search.strip():
            mask &= self._searched(query.search.strip())
        if query.signal:
            mask &= self.signal == query.signal
        with np.errstate(invalid="ignore"):
            for column, low, high in (
                ("rating__trader_grade", query.trader_min, query.trader_max),
                ("rating__investor_grade", query.investor_min, query.investor_max),
                ("row_market_cap_usd", query.mcap_min, query.mcap_max),
            ):
                if low is not None:
                    mask &= self.numbers[column] >= low
                if high is not None:
                    mask &= self.numbers[column] <= high
        if query.risk == "none":  # unrated, or rated without flags
            mask &= ~self.flagged
        elif query.risk == "any":
            mask &= self.flagged
        elif query.risk:
            mask &= self._risk_code(query.risk)
        return mask

    def positions(self, query: RatingsQuery) -> NDArray[np.intp]:
        """Positions of the matching rows in the query's order."""
        order = self.order(query.sort, query.descending)
        return order[self.matching(query)[order]]

    def positions_of(self, ids: frozenset[int]) -> dict[int, int]:
        """Primary key -> position, for these tokens."""
        found = np.flatnonzero(np.isin(self.pk, np.fromiter(ids, dtype=np.int64)))
        return {int(self.pk[n]): int(n) for n in found}

    def _searched(self, term: str) -> NDArray[np.bool_]:
        """Symbol or name containing ``term``, or the exact address, ignoring case (``icontains``/``iexact``)."""
        found = self._search.get(term)
        if found is None:
            if self._haystack is None:  # read on the first search of the snapshot
                position = {int(pk): n for n, pk in enumerate(self.pk)}
                haystack = [("", "", "")] * len(self.pk)
                for pk, symbol, name, address in Token.objects.values_list("pk", "symbol", "name", "address"):
                    if pk in position:
                        haystack[position[pk]] = (symbol.upper(), name.upper(), address.upper())
                self._haystack = haystack
            needle = term.upper()
            found = np.array([needle in s or needle in n or needle == a for s, n, a in self._haystack], dtype=np.bool_)
            if len(self._search) < 100:  # search terms are open-ended: keep a bounded number (~1 MB)
                self._search[term] = found
        return found

    def _risk_code(self, code: str) -> NDArray[np.bool_]:
        """Tokens with an active flag of this code: one query per code and snapshot."""
        found = self._risk_codes.get(code)
        if found is None:
            flagged = RiskFlag.objects.filter(code=code, active=True).values_list("token_id", flat=True)
            found = np.isin(self.pk, np.fromiter(flagged, dtype=np.int64))
            self._risk_codes[code] = found
        return found


_lock = threading.Lock()
_current: RatingsIndex | None = None


def ratings_index(*, as_of: datetime | None) -> RatingsIndex:
    """This process's snapshot for the current data version and market time (built if stale)."""
    global _current
    key = (data_version(), as_of)
    index = _current
    if index is not None and index.key == key and time.monotonic() - index.built_at < settings.PAGE_CACHE_TTL:
        return index
    with _lock:  # one build per change; the other threads wait for it rather than repeat it
        index = _current
        if index is None or index.key != key or time.monotonic() - index.built_at >= settings.PAGE_CACHE_TTL:
            index = RatingsIndex.build(key=key, as_of=as_of)
            _current = index
        return index
