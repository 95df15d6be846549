"""Reads behind the site's pages: the ratings table and the token page.

Every token is listed, rated or not: market columns come from the token's current rating
(denormalised there for fast sorting) and fall back to the indexed market data when the
ratings engine has not graded the token yet. Selectors never write.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Power
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_aware, make_aware

from market.models import Candle, Interval, Token, Transfer
from ratings.models import RiskFlag, Signal, TokenRating

# Public sort keys (the table's column names) -> the annotation they order by.
SORT_KEYS: dict[str, str] = {
    "token": "symbol",
    "price": "row_price_usd",
    "change_24h": "row_change_24h",
    "volume_24h": "row_volume_24h_usd",
    "market_cap": "row_market_cap_usd",
    "liquidity": "row_liquidity_usd",
    "trader_grade": "rating__trader_grade",
    "investor_grade": "rating__investor_grade",
    "signal": "rating__signal",
    "holders": "holder_count",
}
DEFAULT_SORT = "trader_grade"


@dataclass(frozen=True)
class RatingsQuery:
    """The ratings table's filters and order, already validated (``ratings.views.RatingsFilterForm``)."""

    search: str = ""
    signal: str = ""
    risk: str = ""  # "" any, "none" no active flags, "any" at least one, or a flag code
    trader_min: float | None = None
    trader_max: float | None = None
    investor_min: float | None = None
    investor_max: float | None = None
    mcap_min: float | None = None
    mcap_max: float | None = None
    sort: str = DEFAULT_SORT
    descending: bool = True
    token_ids: frozenset[int] | None = field(default=None)  # restricts the table (watchlist tab)


def _volume_24h_fallback(since: datetime) -> Subquery:
    return Subquery(
        Candle.objects.filter(token=OuterRef("pk"), interval=Interval.HOUR, bucket__gte=since)
        .values("token")
        .annotate(total=Sum("volume_usd"))
        .values("total")[:1],
        output_field=FloatField(),
    )


def _close_before(moment: datetime) -> Subquery:
    return Subquery(
        Candle.objects.filter(token=OuterRef("pk"), interval=Interval.HOUR, bucket__lte=moment)
        .order_by("-bucket")
        .values("close")[:1],
        output_field=FloatField(),
    )


def ratings_market_time() -> datetime | None:
    """Block time of the most recently indexed token state: the "now" of the market tables.

    Windows (24h volume, 24h change) are measured back from this instant rather than from
    the wall clock, so a replayed or paused chain still shows its own last day. Every ratings
    page view reads it, so it is one plain statement: building the ORM aggregate cost more
    than the indexed lookup (``token_market_time``) it runs.
    """
    quote = connection.ops.quote_name
    column = quote(Token._meta.get_field("market_updated_at").column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX({column}) FROM {quote(Token._meta.db_table)}")  # names from the model, no input
        row = cursor.fetchone()
    latest = row[0] if row else None
    if latest is None or isinstance(latest, datetime):
        return latest
    parsed = parse_datetime(str(latest))  # SQLite returns the text it stored
    return None if parsed is None else parsed if is_aware(parsed) else make_aware(parsed, UTC)


def ratings_rows(*, query: RatingsQuery, as_of: datetime | None) -> QuerySet[Token]:
    """Every token with its row columns annotated (``row_*``) and its rating joined; one query.

    Units: ``row_price_usd`` USD per whole token; ``row_change_24h`` percent; volumes, market
    cap (fully diluted: price x total supply) and liquidity in USD. Rated tokens use the
    rating's figures (as of ``rating.computed_at``); unrated ones derive them from candles.
    """
    if as_of is None:  # nothing indexed yet: no candles to fall back on
        volume_fallback: Any = Value(0.0)
        change_fallback: Any = Value(None, output_field=FloatField())
    else:
        day_ago = as_of - timedelta(hours=24)
        volume_fallback = _volume_24h_fallback(day_ago)
        change_fallback = (F("price_usd") / _close_before(day_ago) - Value(1.0)) * Value(100.0)
    # Total supply is a uint256 stored exactly; cast to a float here for display statistics only.
    supply_whole = Cast("total_supply", FloatField()) / Power(Value(10.0), Coalesce(F("decimals"), Value(18)))
    rows = Token.objects.select_related("rating").annotate(
        row_price_usd=Coalesce(F("rating__price_usd"), F("price_usd")),
        row_liquidity_usd=Coalesce(F("rating__liquidity_usd"), F("liquidity_usd")),
        row_market_cap_usd=Coalesce(F("rating__market_cap_usd"), F("price_usd") * supply_whole),
        row_volume_24h_usd=Coalesce(F("rating__volume_24h_usd"), volume_fallback, Value(0.0)),
        row_change_24h=Coalesce(F("rating__price_change_24h"), change_fallback),
    )
    if query.token_ids is not None:
        rows = rows.filter(pk__in=query.token_ids)
    if query.search:
        term = query.search.strip()
        rows = rows.filter(Q(symbol__icontains=term) | Q(name__icontains=term) | Q(address__iexact=term))
    if query.signal:
        rows = rows.filter(rating__signal=query.signal)
    for column, low, high in (
        ("rating__trader_grade", query.trader_min, query.trader_max),
        ("rating__investor_grade", query.investor_min, query.investor_max),
        ("row_market_cap_usd", query.mcap_min, query.mcap_max),
    ):
        if low is not None:
            rows = rows.filter(**{f"{column}__gte": low})
        if high is not None:
            rows = rows.filter(**{f"{column}__lte": high})
    if query.risk == "none":
        rows = rows.filter(Q(rating__isnull=True) | Q(rating__risk_flags=[]))
    elif query.risk == "any":
        rows = rows.filter(rating__isnull=False).exclude(rating__risk_flags=[])
    elif query.risk:
        rows = rows.filter(Exists(RiskFlag.objects.filter(token=OuterRef("pk"), code=query.risk, active=True)))
    column = SORT_KEYS.get(query.sort, SORT_KEYS[DEFAULT_SORT])
    order = F(column).desc(nulls_last=True) if query.descending else F(column).asc(nulls_last=True)
    return rows.order_by(order, "pk")


def rating_of(token: Token) -> TokenRating | None:
    """The token's rating if ``select_related("rating")`` found one (no query)."""
    try:
        return token.rating  # type: ignore[attr-defined]
    except TokenRating.DoesNotExist:
        return None


SIGNAL_CHOICES = Signal.choices


# --- Token page -------------------------------------------------------------------------


def token_by_address(*, chain_id: int, address: str) -> Token | None:
    """The token at an address, matched case-insensitively (links may be lower-cased).

    The exact address first: it is what the site links to, and the unique index answers it;
    a case-insensitive match scans every token of the chain.
    """
    tokens = Token.objects.select_related("rating").filter(chain_id=chain_id)
    return tokens.filter(address=address).first() or tokens.filter(address__iexact=address).first()


CANDLE_LIMITS = {Interval.MINUTE: 720, Interval.HOUR: 720, Interval.DAY: 365}  # bars per chart


def token_candles(*, token: Token, interval: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """Chart bars, oldest first: time (unix seconds, bucket start UTC), OHLC in USD, volume in USD.

    ``since`` returns only bars at or after it (the live chart's refresh asks for the last bar
    again, since the current bucket keeps changing until it closes).
    """
    rows = Candle.objects.filter(token=token, interval=interval)
    if since is not None:
        rows = rows.filter(bucket__gte=since)
    recent = rows.order_by("-bucket").values_list("bucket", "open", "high", "low", "close", "volume_usd")[
        : CANDLE_LIMITS.get(interval, 720)
    ]
    return [
        {"time": int(b.timestamp()), "open": o, "high": h, "low": lo, "close": c, "volume": v}
        for b, o, h, lo, c, v in reversed(recent)
    ]


def token_whale_feed(*, token: Token, limit: int = 20) -> QuerySet[Transfer]:
    """Newest whale transfers first (index ``transfer_whale_recent``)."""
    return Transfer.objects.filter(token=token, is_whale=True).order_by("-timestamp", "-log_index")[:limit]


@dataclass(frozen=True)
class VolatilityPatterns:
    """Statistics of the token's hourly candles over a window ending at its last candle."""

    hours: int  # hourly candles used
    since: datetime | None
    until: datetime | None
    hourly_volatility_pct: float | None  # standard deviation of hourly close-to-close returns, percent
    daily_volatility_pct: float | None  # the same scaled by sqrt(24), percent
    max_drawdown_pct: float | None  # worst peak-to-trough fall of the close, percent
    volume_by_hour: list[tuple[int, float, float]]  # (UTC hour, USD volume, share of the window's volume 0-1)
    busiest_hour: int | None
    total_volume_usd: float


def token_volatility_patterns(*, token: Token, days: int = 7) -> VolatilityPatterns:
    """Hourly return volatility, drawdown and the volume profile by hour of day (UTC)."""
    last = (
        Candle.objects.filter(token=token, interval=Interval.HOUR)
        .order_by("-bucket")
        .values_list("bucket", flat=True)[:1]
    )
    until = next(iter(last), None)
    if until is None:
        return VolatilityPatterns(0, None, None, None, None, None, [], None, 0.0)
    since = until - timedelta(days=days)
    bars = list(
        Candle.objects.filter(token=token, interval=Interval.HOUR, bucket__gt=since)
        .order_by("bucket")
        .values_list("bucket", "close", "volume_usd")
    )
    closes = [c for _, c, _ in bars if c > 0]
    returns = [b / a - 1 for a, b in zip(closes, closes[1:], strict=False)]
    hourly = statistics.pstdev(returns) * 100 if len(returns) >= 2 else None
    peak, drawdown = 0.0, 0.0
    for close in closes:
        peak = max(peak, close)
        drawdown = min(drawdown, close / peak - 1)
    by_hour = [0.0] * 24
    for bucket, _, volume in bars:
        by_hour[bucket.hour] += volume
    total = sum(by_hour)
    profile = [(h, v, (v / total) if total else 0.0) for h, v in enumerate(by_hour)]
    busiest = max(range(24), key=lambda h: by_hour[h]) if total else None
    return VolatilityPatterns(
        hours=len(bars),
        since=bars[0][0] if bars else None,
        until=until,
        hourly_volatility_pct=hourly,
        daily_volatility_pct=hourly * math.sqrt(24) if hourly is not None else None,
        max_drawdown_pct=drawdown * 100 if closes else None,
        volume_by_hour=profile,
        busiest_hour=busiest,
        total_volume_usd=total,
    )
