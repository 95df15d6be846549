"""Reads of ratings. Selectors never write; they own filtering, ordering and joins."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from market.models import Token
from ratings.datapoints import REGISTRY_BY_NAME, DataPoint
from ratings.models import (
    Anomaly,
    DataPointValue,
    GradeHistory,
    GradeInterval,
    GradeModel,
    RiskFlag,
    SignalChange,
    TokenRating,
)

# Public sort keys -> ORDER BY; "-" prefix means descending. Each has a named index.
RATINGS_ORDERINGS: dict[str, str] = {
    "trader_grade": "-trader_grade",
    "investor_grade": "-investor_grade",
    "overall_grade": "-overall_grade",
    "market_cap": "-market_cap_usd",
    "volume_24h": "-volume_24h_usd",
    "price_change_24h": "-price_change_24h",
    "liquidity": "-liquidity_usd",
}


def ratings_list(
    *,
    chain_id: int | None = None,
    signal: str | None = None,
    min_trader_grade: float | None = None,
    min_investor_grade: float | None = None,
    min_market_cap_usd: float | None = None,
    max_market_cap_usd: float | None = None,
    min_volume_24h_usd: float | None = None,
    min_liquidity_usd: float | None = None,
    risk_flag: str | None = None,
    exclude_risky: bool = False,
    search: str | None = None,
    order_by: str = "trader_grade",
    ascending: bool = False,
) -> QuerySet[TokenRating]:
    """Current ratings, filtered; ``order_by`` is a key of ``RATINGS_ORDERINGS`` (best first unless ``ascending``).

    ``risk_flag`` keeps tokens carrying that active flag code; ``exclude_risky`` drops every
    token with any active flag. One query, token joined.
    """
    rows = TokenRating.objects.select_related("token")
    if chain_id is not None:
        rows = rows.filter(token__chain_id=chain_id)
    if signal:
        rows = rows.filter(signal=signal)
    if min_trader_grade is not None:
        rows = rows.filter(trader_grade__gte=min_trader_grade)
    if min_investor_grade is not None:
        rows = rows.filter(investor_grade__gte=min_investor_grade)
    if min_market_cap_usd is not None:
        rows = rows.filter(market_cap_usd__gte=min_market_cap_usd)
    if max_market_cap_usd is not None:
        rows = rows.filter(market_cap_usd__lte=max_market_cap_usd)
    if min_volume_24h_usd is not None:
        rows = rows.filter(volume_24h_usd__gte=min_volume_24h_usd)
    if min_liquidity_usd is not None:
        rows = rows.filter(liquidity_usd__gte=min_liquidity_usd)
    if risk_flag:
        rows = rows.filter(token__risk_flags__code=risk_flag, token__risk_flags__active=True)
    if exclude_risky:
        rows = rows.filter(risk_flags=[])
    if search:
        rows = rows.filter(Q(token__symbol__icontains=search) | Q(token__address__iexact=search))
    order = RATINGS_ORDERINGS.get(order_by, RATINGS_ORDERINGS["trader_grade"])
    if ascending:
        order = order.removeprefix("-")
    return rows.order_by(order, "token_id")


def token_rating(*, token: Token) -> TokenRating | None:
    return TokenRating.objects.filter(token=token).first()


@dataclass(frozen=True)
class DataPointRow:
    name: str
    label: str
    family: str
    window: str
    unit: str
    value: float | None


def token_data_points(*, token: Token, interval: str = GradeInterval.HOUR) -> list[DataPointRow]:
    """Latest data points of a token with their registry description, in registry order."""
    values = dict(DataPointValue.objects.filter(token=token, interval=interval).values_list("name", "value"))
    rows = []
    for name, value in values.items():
        point: DataPoint | None = REGISTRY_BY_NAME.get(name)
        if point is None:
            continue
        rows.append(DataPointRow(name, point.meaning, point.family, point.window, point.unit, value))
    order = {name: i for i, name in enumerate(REGISTRY_BY_NAME)}
    return sorted(rows, key=lambda row: order[row.name])


def grade_history(
    *, token: Token, interval: str = GradeInterval.HOUR, limit: int | None = None
) -> QuerySet[GradeHistory]:
    """Oldest first, for charts; ``limit`` keeps the most recent steps."""
    rows = GradeHistory.objects.filter(token=token, interval=interval)
    if limit is not None:
        recent = list(rows.order_by("-at").values_list("id", flat=True)[:limit])
        rows = rows.filter(id__in=recent)
    return rows.order_by("at")


def signal_history(*, token: Token) -> QuerySet[SignalChange]:
    """Newest first."""
    return SignalChange.objects.filter(token=token).order_by("-at")


def token_anomalies(*, token: Token, limit: int = 50) -> QuerySet[Anomaly]:
    return Anomaly.objects.filter(token=token).order_by("-at", "kind")[:limit]


def token_risk_flags(*, token: Token, include_inactive: bool = False) -> QuerySet[RiskFlag]:
    rows = RiskFlag.objects.filter(token=token)
    if not include_inactive:
        rows = rows.filter(active=True)
    return rows.order_by("-active", "code")


def grade_model_active(*, chain_id: int, horizon: str) -> GradeModel | None:
    return GradeModel.objects.filter(chain_id=chain_id, horizon=horizon, active=True).first()


def grade_models(*, chain_id: int | None = None) -> QuerySet[GradeModel]:
    rows = GradeModel.objects.all()
    if chain_id is not None:
        rows = rows.filter(chain_id=chain_id)
    return rows.order_by("-created_at")
