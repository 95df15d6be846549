"""Reads the public API needs beyond the apps' own selectors. Selectors never write."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache, lru_cache
from typing import Any

import orjson
from django.db import connection
from django.db.models import CharField, F, FloatField, Func, OuterRef, QuerySet, Subquery, Sum, TextField, Value
from django.db.models.functions import Cast, Coalesce
from django.http import Http404
from rest_framework.exceptions import ValidationError
from web3 import Web3

from market.models import Candle, Pool, PoolSnapshot, Token
from ratings.models import Signal, SignalChange, TokenRating
from tmsite.api.compiled import CompiledQuerySet
from tmsite.api.models import ApiKey
from tmsite.api.serializers import TOKEN_DETAIL_VALUES, TOKEN_TIMES, TOKEN_VALUES
from wallets.models import User

ADDRESS_MALFORMED = "must be a 0x-prefixed 20-byte hex address"

# Public sort keys -> the rating column behind them (nulls sort as -1, below every value).
TOKEN_ORDERINGS: dict[str, str] = {
    "trader_grade": "rating__trader_grade",
    "investor_grade": "rating__investor_grade",
    "overall_grade": "rating__overall_grade",
    "market_cap": "rating__market_cap_usd",
    "volume_24h": "rating__volume_24h_usd",
    "liquidity": "rating__liquidity_usd",
    "price_change_24h": "rating__price_change_24h",
}


ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def checksummed(address: str, *, field: str = "address") -> str:
    """Any letter case is looked up (the checksum is a display convention, not a key)."""
    if not ADDRESS_RE.match(address):
        raise ValidationError({field: [ADDRESS_MALFORMED]})
    return _checksum(address.lower())


@lru_cache(maxsize=65_536)
def _checksum(address: str) -> str:
    """A Keccak hash per call (~0.1 ms): the addresses asked for again are remembered."""
    return Web3.to_checksum_address(address)


def token_get(*, chain_id: int, address: str) -> Token:
    """The token at (chain, address), any letter case; rating joined. 404 when not indexed."""
    address = checksummed(address)
    if not 0 < chain_id < 2**31:  # outside the column's range: nothing there
        raise Http404("no such token")
    token = Token.objects.select_related("rating").filter(chain_id=chain_id, address=address).first()
    if token is None:
        raise Http404("no such token")
    return token


def _token_values_query(*, chain_id: int, address: str) -> QuerySet[Token, dict[str, Any]]:
    return Token.objects.filter(chain_id=chain_id).filter(address=address).values(*TOKEN_DETAIL_VALUES)[:1]


@cache
def _token_values_sql() -> str:
    """The ORM's SQL for ``_token_values_query``, compiled once: compiling costs ~0.7 ms a call,
    three times the query itself. Its parameters are (chain_id, address), in that order."""
    return str(_token_values_query(chain_id=1, address="").query.sql_with_params()[0])


_JSON_VALUES = ("rating__risk_flags", "rating__top_contributions")


def token_values(*, chain_id: int, address: str) -> dict[str, Any]:
    """The token at (chain, address) as a ``TokenDetailSerializer`` row for
    ``serializers.token_out`` (rating columns null when unrated). 404 when not indexed."""
    address = checksummed(address)
    if not 0 < chain_id < 2**31:
        raise Http404("no such token")
    found: dict[str, Any] | None
    if connection.vendor != "postgresql":  # SQLite returns times as text: let the ORM convert them
        found = next(iter(_token_values_query(chain_id=chain_id, address=address)), None)
    else:
        with connection.cursor() as cursor:
            cursor.execute(_token_values_sql(), [chain_id, address])
            values = cursor.fetchone()
        found = None if values is None else dict(zip(TOKEN_DETAIL_VALUES, values, strict=True))
        for name in _JSON_VALUES:
            if found is not None and isinstance(found[name], str):  # jsonb comes as text; the field decodes it
                found[name] = orjson.loads(found[name])
    if found is None:
        raise Http404("no such token")
    return found


def tokens_rated(*, ordering: str = "-trader_grade") -> QuerySet[Token]:
    """Rated tokens with their rating (one query); ``sort_key`` carries ``ordering``'s value.

    A column that cannot be null is sorted as itself, so that its index serves the page (the
    first page of 10,000 tokens: 0.3 ms by ``rating_trader_top``, 25 ms through a sort of
    ``COALESCE(...)``); a nullable one sorts its nulls as -1, below every value.
    """
    column = TOKEN_ORDERINGS[ordering.removeprefix("-")]
    if getattr(TokenRating._meta.get_field(column.removeprefix("rating__")), "null", True):
        sort_key: Any = Coalesce(F(column), Value(-1.0), output_field=FloatField())
    else:
        sort_key = F(column)
    return Token.objects.filter(rating__isnull=False).select_related("rating").annotate(sort_key=sort_key)


# PostgreSQL formats the list's times as ``serializers._iso`` does (ISO-8601, UTC, ``Z``,
# microseconds only when there are any): parsing 150 timestamps into datetimes and printing
# them again was ~15% of an uncached page of 50 tokens.
_ISO_Z = (
    """regexp_replace(to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), """
    r"""'\.000000$', '') || 'Z'"""
)


@cache
def _tokens_rated_rows(ordering: str, vendor: str) -> QuerySet[Token, dict[str, Any]]:
    rows = CompiledQuerySet(model=Token, query=tokens_rated(ordering=ordering).query)
    if vendor != "postgresql":
        return rows.values(*TOKEN_VALUES, "sort_key").with_shape(("tokens_rated", ordering, vendor))
    times = {
        f"{column.removeprefix('rating__')}_text": Func(F(column), template=_ISO_Z, output_field=CharField())
        for column in TOKEN_TIMES
    }
    times["risk_flags_text"] = Cast(F("rating__risk_flags"), TextField())
    parsed_here = {*TOKEN_TIMES, "rating__risk_flags"}
    columns = (name for name in TOKEN_VALUES if name not in parsed_here)
    return rows.values(*columns, "sort_key", **times).with_shape(("tokens_rated", ordering, vendor))


def tokens_rated_rows(*, ordering: str = "-trader_grade") -> QuerySet[Token, dict[str, Any]]:
    """``tokens_rated`` as ``values()`` rows for ``serializers.token_out``. The queryset is built
    once per ordering (resolving its 27 columns' paths cost ~1 ms a call) and copied per call;
    its SQL for each order and page is compiled once (``tmsite.api.compiled``)."""
    return _tokens_rated_rows(ordering, connection.vendor).all()


def candles(*, token: Token, interval: str) -> QuerySet[Candle]:
    return Candle.objects.filter(token=token, interval=interval)


def signal_changes(*, token: Token) -> QuerySet[SignalChange]:
    """Flips with ``end_price``: the price at the next flip (null for the current one)."""
    following = SignalChange.objects.filter(token_id=OuterRef("token_id"), at__gt=OuterRef("at")).order_by("at")
    return SignalChange.objects.filter(token=token).annotate(end_price=Subquery(following.values("price_usd")[:1]))


def signal_returns(*, token: Token) -> dict[str, Any]:
    """Compounded return of following the signal (long on bullish, short on bearish, flat on
    neutral) against holding the token, both from the first flip to the current price."""
    flips = list(SignalChange.objects.filter(token=token).order_by("at").values_list("at", "signal", "price_usd"))
    maybe_prices = [p for _, _, p in flips] + [token.price_usd]
    prices = [p for p in maybe_prices if p is not None and p > 0]
    if not flips or len(prices) < len(maybe_prices):
        return {"since": flips[0][0] if flips else None, "signal_return": None, "holding_return": None}
    growth = 1.0
    directions = {Signal.BULLISH.value: 1.0, Signal.BEARISH.value: -1.0}
    for signal, start, end in zip((s for _, s, _ in flips), prices, prices[1:], strict=False):
        direction = directions.get(signal, 0.0)
        growth *= 1.0 + direction * (end / start - 1.0)
    return {"since": flips[0][0], "signal_return": growth - 1.0, "holding_return": prices[-1] / prices[0] - 1.0}


def market_overview(*, chain_id: int) -> dict[str, Any]:
    """Share of rated tokens bullish, total pool liquidity now and 24h before the last snapshot."""
    ratings = TokenRating.objects.filter(token__chain_id=chain_id)
    total = ratings.count()
    bullish = ratings.filter(signal=Signal.BULLISH).count()
    bearish = ratings.filter(signal=Signal.BEARISH).count()
    pools = Pool.objects.filter(chain_id=chain_id)
    liquidity = pools.aggregate(total=Sum("tvl_usd"))["total"] or 0.0
    last = PoolSnapshot.objects.filter(pool__chain_id=chain_id).order_by("-hour").values_list("hour", flat=True)
    as_of = last.first()
    before = None
    if as_of is not None:
        then = PoolSnapshot.objects.filter(pool=OuterRef("pk"), hour__lte=as_of - timedelta(hours=24)).order_by("-hour")
        before = pools.annotate(tvl_then=Subquery(then.values("tvl_usd")[:1])).aggregate(total=Sum("tvl_then"))["total"]
    change = None if not before else (liquidity - before) / before
    return {
        "chain_id": chain_id,
        "as_of": as_of,
        "tokens_rated": total,
        "bullish_share": bullish / total if total else None,
        "bearish_share": bearish / total if total else None,
        "total_liquidity_usd": liquidity,
        "total_liquidity_usd_24h_ago": before,
        "total_liquidity_change_24h": change,
    }


def api_keys_of(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(owner=user).order_by("-created", "prefix")


def api_key_get_for_user(*, prefix: str, user: User) -> ApiKey:
    """Another user's key does not exist for them (404)."""
    key = ApiKey.objects.filter(owner=user, prefix=prefix).first() if user.is_authenticated else None
    if key is None:
        raise Http404("no such API key")
    return key
