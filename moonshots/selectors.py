"""Reads for the Moonshots tab: open picks with live ROI, past picks, and the track record.

ROI is percent; prices USD per whole token. Live ROI uses ``market.Token.price_usd`` (the
latest indexed price); a past pick's ROI uses its stored exit price. The track record and its
comparison basket are computed from stored picks and indexed 1h candles only.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from market.models import Candle, Interval, Token
from moonshots.models import Moonshot
from moonshots.services import market_now, roi_pct


@dataclass(frozen=True)
class PickRow:
    pick: Moonshot
    roi_pct: float | None  # live (open) or at exit (closed)
    holding_hours: float  # entry to exit, or entry to market time for an open pick


@dataclass(frozen=True)
class TrackRecord:
    """Closed picks only: each ROI is realised at its exit price. Percent throughout."""

    picks: int
    hits: int
    hit_rate_pct: float | None
    median_roi_pct: float | None
    mean_roi_pct: float | None
    best_roi_pct: float | None
    worst_roi_pct: float | None
    basket_mean_roi_pct: float | None  # equal-weight basket of listed tokens over each pick's holding period
    basket_median_roi_pct: float | None
    open_picks: int
    market_time: datetime | None
    computed_at: datetime
    replayed_picks: int = 0  # closed picks made by a point-in-time replay of history
    period_start: datetime | None = None  # first entry of a closed pick
    basket_period_roi_pct: float | None = None  # the same basket held from period_start to market_time


def _hours(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def moonshots_open(*, chain_id: int) -> QuerySet[Moonshot]:
    """Open picks, newest first, with token and rating joined (one query)."""
    return (
        Moonshot.objects.filter(chain_id=chain_id, exited_at__isnull=True)
        .select_related("token", "token__rating")
        .order_by("-entered_at", "id")
    )


def moonshots_closed(*, chain_id: int) -> QuerySet[Moonshot]:
    """Closed picks, most recently closed first."""
    return (
        Moonshot.objects.filter(chain_id=chain_id, exited_at__isnull=False)
        .select_related("token", "token__rating")
        .order_by("-exited_at", "id")
    )


def moonshot_rows(*, picks: QuerySet[Moonshot] | list[Moonshot], now: datetime) -> list[PickRow]:
    rows = []
    for pick in picks:
        if pick.exited_at is None:
            roi = roi_pct(entry_price_usd=pick.entry_price_usd, price_usd=pick.token.price_usd)
            rows.append(PickRow(pick, roi, _hours(pick.entered_at, now)))
        else:
            roi = roi_pct(entry_price_usd=pick.entry_price_usd, price_usd=pick.exit_price_usd)
            rows.append(PickRow(pick, roi, _hours(pick.entered_at, pick.exited_at)))
    return rows


def listed_token_ids(*, chain_id: int) -> list[int]:
    """The comparison universe: every rated token that is not a quote asset."""
    return list(
        Token.objects.filter(chain_id=chain_id, quote_kind="", rating__isnull=False).values_list("id", flat=True)
    )


def basket_returns_pct(*, chain_id: int, periods: list[tuple[datetime, datetime]]) -> list[float | None]:
    """Equal-weight return (percent) of all listed tokens over each period, from 1h candle closes.

    A token's price at ``t`` is the close of its last 1h candle starting at or before ``t``;
    tokens without a price at both ends of a period are left out of that period's mean.
    """
    if not periods:
        return []
    ids = listed_token_ids(chain_id=chain_id)
    first = min(start for start, _ in periods) - timedelta(days=30)
    last = max(end for _, end in periods)
    series: dict[int, tuple[list[datetime], list[float]]] = {}
    for token_id, bucket, close in (
        Candle.objects.filter(token_id__in=ids, interval=Interval.HOUR, bucket__gte=first, bucket__lte=last)
        .order_by("token_id", "bucket")
        .values_list("token_id", "bucket", "close")
    ):
        times, closes = series.setdefault(token_id, ([], []))
        times.append(bucket)
        closes.append(close)

    def price_at(token_id: int, at: datetime) -> float | None:
        times, closes = series.get(token_id, ([], []))
        i = bisect.bisect_right(times, at) - 1
        return closes[i] if i >= 0 and closes[i] > 0 else None

    out: list[float | None] = []
    for start, end in periods:
        changes = []
        for token_id in series:
            a, b = price_at(token_id, start), price_at(token_id, end)
            if a is not None and b is not None:
                changes.append((b / a - 1.0) * 100.0)
        out.append(statistics.fmean(changes) if changes else None)
    return out


def moonshot_track_record(*, chain_id: int) -> TrackRecord:
    """Hit rate (ROI > 0), median/mean/best/worst ROI of closed picks against an equal-weight
    basket of every listed token held over the same periods."""
    closed = list(
        Moonshot.objects.filter(chain_id=chain_id, exited_at__isnull=False).only(
            "entered_at", "exited_at", "entry_price_usd", "exit_price_usd", "replayed"
        )
    )
    rois = [roi_pct(entry_price_usd=p.entry_price_usd, price_usd=p.exit_price_usd) or 0.0 for p in closed]
    market_time = market_now(chain_id=chain_id)
    period_start = min((p.entered_at for p in closed), default=None)
    periods: list[tuple[datetime, datetime]] = [(p.entered_at, p.exited_at) for p in closed]  # type: ignore[misc]
    if period_start is not None:
        periods.append((period_start, market_time))
    returns = basket_returns_pct(chain_id=chain_id, periods=periods)
    baskets = [b for b in returns[: len(closed)] if b is not None]
    hits = sum(1 for r in rois if r > 0)
    return TrackRecord(
        picks=len(rois),
        hits=hits,
        hit_rate_pct=hits / len(rois) * 100 if rois else None,
        median_roi_pct=statistics.median(rois) if rois else None,
        mean_roi_pct=statistics.fmean(rois) if rois else None,
        best_roi_pct=max(rois) if rois else None,
        worst_roi_pct=min(rois) if rois else None,
        basket_mean_roi_pct=statistics.fmean(baskets) if baskets else None,
        basket_median_roi_pct=statistics.median(baskets) if baskets else None,
        open_picks=Moonshot.objects.filter(chain_id=chain_id, exited_at__isnull=True).count(),
        market_time=market_time,
        computed_at=timezone.now(),
        replayed_picks=sum(1 for p in closed if p.replayed),
        period_start=period_start,
        basket_period_roi_pct=returns[-1] if period_start is not None else None,
    )
