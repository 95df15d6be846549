"""Data points: the one registry of every per-token feature, and the vectorised pipeline.

Every data point is declared once in ``REGISTRY`` (name, one-line meaning, family, window,
unit). ``data_points_compute`` evaluates all of them for every token at the requested time
rows of a ``MarketPanel`` (wide arrays, time x token), with numpy/scipy operations over all
tokens at once: no per-token Python loop. Loops, where there are any, run over a handful of
time offsets (a streak of days, the requested rows of an exact drawdown), each step a whole
cross-section of tokens.

Conventions:
- Rows are bucket starts; a value at row ``t`` uses buckets ``<= t`` only (no look-ahead).
- Windows are wall-clock durations converted to bars of the panel (``1h`` or ``1d``); a
  data point whose window is shorter than one bar (a 1h return on daily bars) is NaN there,
  as is any value whose window reaches before the token's first trade.
- Percent units are percentage points (``5.0`` is +5 %); "ann." is annualised with 365 days.
- Indicator periods (RSI 14, MACD 12/26/9, ADX 14, Bollinger 20, Stochastic 14) are in bars,
  as charting tools define them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.signal import lfilter

HOURS_PER_YEAR = 365 * 24
# $1k / $10k buys in the price-impact data points.
IMPACT_SIZES_USD = (1_000.0, 10_000.0)
DEFAULT_FEE = 0.003  # Uniswap V2 swap fee (30 bps)


@dataclass(frozen=True)
class DataPoint:
    name: str
    meaning: str
    family: str
    window: str
    unit: str
    # False for snapshot-only data (current holder distribution): no history, so models skip it.
    historical: bool = True


FAMILIES = (
    "momentum",
    "volatility",
    "volume",
    "liquidity",
    "holders",
    "whales",
    "activity",
    "structure",
    "sentiment",
)

_D = DataPoint
REGISTRY: tuple[DataPoint, ...] = (
    # --- price momentum
    _D("ret_1h", "price change over the last hour", "momentum", "1h", "%"),
    _D("ret_4h", "price change over the last 4 hours", "momentum", "4h", "%"),
    _D("ret_12h", "price change over the last 12 hours", "momentum", "12h", "%"),
    _D("ret_24h", "price change over the last 24 hours", "momentum", "24h", "%"),
    _D("ret_3d", "price change over the last 3 days", "momentum", "3d", "%"),
    _D("ret_7d", "price change over the last 7 days", "momentum", "7d", "%"),
    _D("ret_14d", "price change over the last 14 days", "momentum", "14d", "%"),
    _D("ret_30d", "price change over the last 30 days", "momentum", "30d", "%"),
    _D("rsi_14", "Wilder relative strength index", "momentum", "14 bars", "0-100"),
    _D("rsi_6", "fast Wilder relative strength index", "momentum", "6 bars", "0-100"),
    _D("macd", "MACD line (EMA12 - EMA26) as a share of price", "momentum", "26 bars", "%"),
    _D("macd_signal", "MACD signal line (EMA9 of MACD) as a share of price", "momentum", "35 bars", "%"),
    _D("macd_hist", "MACD histogram (MACD - signal) as a share of price", "momentum", "35 bars", "%"),
    _D("ma_gap_24h", "price above its 24h simple moving average", "momentum", "24h", "%"),
    _D("ma_gap_7d", "price above its 7d simple moving average", "momentum", "7d", "%"),
    _D("ma_gap_30d", "price above its 30d simple moving average", "momentum", "30d", "%"),
    _D("ema_gap_12", "price above its 12-bar exponential moving average", "momentum", "12 bars", "%"),
    _D("ema_gap_26", "price above its 26-bar exponential moving average", "momentum", "26 bars", "%"),
    _D("ma_cross_24h_7d", "24h moving average above the 7d one", "momentum", "7d", "%"),
    _D("golden_cross_7d_30d", "1 when the 7d moving average is above the 30d one, else 0", "momentum", "30d", "flag"),
    _D("adx_14", "average directional index: trend strength whatever its direction", "momentum", "14 bars", "0-100"),
    _D("plus_di_14", "positive directional indicator", "momentum", "14 bars", "0-100"),
    _D("minus_di_14", "negative directional indicator", "momentum", "14 bars", "0-100"),
    _D("roc_12", "rate of change over 12 bars", "momentum", "12 bars", "%"),
    _D("roc_48", "rate of change over 48 bars", "momentum", "48 bars", "%"),
    _D("stoch_k_14", "stochastic %K: close within the 14-bar high-low range", "momentum", "14 bars", "0-100"),
    _D("price_vs_high_30d", "price below its 30d high (0 at the high)", "momentum", "30d", "%"),
    _D("price_vs_low_30d", "price above its 30d low (0 at the low)", "momentum", "30d", "%"),
    _D("up_bar_share_24h", "share of bars that closed up over 24h", "momentum", "24h", "ratio"),
    _D(
        "bollinger_pct_b_20",
        "close within the 20-bar Bollinger bands (0 lower, 1 upper)",
        "momentum",
        "20 bars",
        "ratio",
    ),
    _D("bollinger_width_20", "Bollinger band width (4 std) as a share of the mean", "momentum", "20 bars", "%"),
    # --- volatility
    _D("volatility_24h", "realised volatility of bar log returns, annualised", "volatility", "24h", "% ann."),
    _D("volatility_7d", "realised volatility of bar log returns, annualised", "volatility", "7d", "% ann."),
    _D("volatility_30d", "realised volatility of bar log returns, annualised", "volatility", "30d", "% ann."),
    _D("downside_volatility_7d", "volatility of negative bar returns only, annualised", "volatility", "7d", "% ann."),
    _D("atr_14", "average true range (Wilder) as a share of price", "volatility", "14 bars", "%"),
    _D("max_drawdown_7d", "largest peak-to-trough fall within the window", "volatility", "7d", "%"),
    _D("max_drawdown_30d", "largest peak-to-trough fall within the window", "volatility", "30d", "%"),
    _D("range_24h", "24h high minus low as a share of the close", "volatility", "24h", "%"),
    _D("skew_7d", "skewness of bar log returns", "volatility", "7d", "ratio"),
    _D("kurtosis_7d", "excess kurtosis of bar log returns", "volatility", "7d", "ratio"),
    _D("var_95_7d", "one-day 95% value at risk (normal, from bar returns)", "volatility", "7d", "%"),
    _D("sharpe_7d", "mean over volatility of bar returns, annualised (no risk-free rate)", "volatility", "7d", "ratio"),
    _D("sortino_7d", "mean over downside volatility of bar returns, annualised", "volatility", "7d", "ratio"),
    # --- volume
    _D("volume_24h_usd", "traded volume over 24h", "volume", "24h", "USD"),
    _D("volume_7d_usd", "traded volume over 7d", "volume", "7d", "USD"),
    _D("volume_change_24h", "last 24h volume against the 24h before", "volume", "48h", "%"),
    _D("volume_zscore_30d", "last 24h volume in standard deviations from the 30d daily mean", "volume", "30d", "z"),
    _D("volume_spike_1h", "last bar's volume over the mean bar volume of 7d", "volume", "7d", "ratio"),
    _D("volume_to_liquidity_24h", "24h volume over pool liquidity (turnover)", "volume", "24h", "ratio"),
    _D("buy_share_24h", "share of 24h volume that bought the token", "volume", "24h", "ratio"),
    _D("buy_share_7d", "share of 7d volume that bought the token", "volume", "7d", "ratio"),
    _D("trades_24h", "swaps over 24h", "volume", "24h", "count"),
    _D("avg_trade_usd_24h", "mean swap size over 24h", "volume", "24h", "USD"),
    _D(
        "signed_volume_share_7d",
        "volume on up bars minus down bars over all volume (OBV trend)",
        "volume",
        "7d",
        "ratio",
    ),
    _D("vwap_gap_24h", "price above the 24h volume-weighted average price", "volume", "24h", "%"),
    # --- liquidity
    _D("liquidity_usd", "USD in the token's pools (both sides)", "liquidity", "now", "USD"),
    _D("liquidity_change_24h", "pool liquidity against 24h ago", "liquidity", "24h", "%"),
    _D("liquidity_change_7d", "pool liquidity against 7d ago", "liquidity", "7d", "%"),
    _D("liquidity_drawdown_7d", "pool liquidity below its 7d peak (soft-rug detector)", "liquidity", "7d", "%"),
    _D("depth_usd", "quote-side pool reserves (half the liquidity)", "liquidity", "now", "USD"),
    _D("price_impact_1k", "price impact of a $1k buy, V2 constant-product formula with fee", "liquidity", "now", "%"),
    _D("price_impact_10k", "price impact of a $10k buy, V2 constant-product formula with fee", "liquidity", "now", "%"),
    _D("amihud_illiquidity_7d", "absolute price move per $1M traded", "liquidity", "7d", "% per $1M"),
    _D("liquidity_to_mcap", "pool liquidity over fully diluted market cap", "liquidity", "now", "ratio"),
    # --- holders
    _D("holder_count", "addresses holding a positive balance", "holders", "now", "count"),
    _D("holder_growth_24h", "holder count against 24h ago", "holders", "24h", "%"),
    _D("holder_growth_7d", "holder count against 7d ago", "holders", "7d", "%"),
    _D("new_holders_24h", "addresses that received the token for the first time, 24h", "holders", "24h", "count"),
    _D("new_holders_7d", "addresses that received the token for the first time, 7d", "holders", "7d", "count"),
    _D(
        "top10_share",
        "supply share of the 10 largest holders, pools and burn addresses excluded",
        "holders",
        "now",
        "ratio",
        False,
    ),
    _D(
        "top1_share",
        "supply share of the largest holder, pools and burn addresses excluded",
        "holders",
        "now",
        "ratio",
        False,
    ),
    _D(
        "holder_gini",
        "Gini coefficient of balances (0 equal, 1 one holder), pools excluded",
        "holders",
        "now",
        "0-1",
        False,
    ),
    # --- whales
    _D("whale_net_flow_24h_usd", "whale buys minus whale sells over 24h", "whales", "24h", "USD"),
    _D("whale_net_flow_7d_usd", "whale buys minus whale sells over 7d", "whales", "7d", "USD"),
    _D("whale_buys_24h", "whale-sized buys from pools, 24h", "whales", "24h", "count"),
    _D("whale_sells_24h", "whale-sized sells into pools, 24h", "whales", "24h", "count"),
    _D("whale_buys_7d", "whale-sized buys from pools, 7d", "whales", "7d", "count"),
    _D("whale_sells_7d", "whale-sized sells into pools, 7d", "whales", "7d", "count"),
    _D(
        "whale_accumulation_streak",
        "consecutive days (up to 14) ending now with positive whale net flow",
        "whales",
        "14d",
        "days",
    ),
    _D("whale_net_flow_to_liquidity_7d", "7d whale net flow over pool liquidity", "whales", "7d", "ratio"),
    _D("whale_transfers_24h", "whale-sized transfers of any kind, 24h", "whales", "24h", "count"),
    # --- on-chain activity
    _D("transfers_24h", "token transfers, 24h", "activity", "24h", "count"),
    _D("transfers_7d", "token transfers, 7d", "activity", "7d", "count"),
    _D("active_addresses_24h", "sum of hourly distinct senders and receivers, 24h", "activity", "24h", "count"),
    _D("unique_traders_24h", "sum of hourly distinct swap recipients, 24h", "activity", "24h", "count"),
    _D("swaps_24h", "pool swaps, 24h", "activity", "24h", "count"),
    _D("transfers_change_7d", "transfers in the last 7d against the 7d before", "activity", "14d", "%"),
    _D("traders_change_7d", "unique traders in the last 7d against the 7d before", "activity", "14d", "%"),
    # --- market structure
    _D("support_distance_7d", "close above the 7d low (support)", "structure", "7d", "%"),
    _D("resistance_distance_7d", "7d high (resistance) above the close", "structure", "7d", "%"),
    _D("trend_state", "+1 up (close > MA7d > MA30d), -1 down (reverse), 0 otherwise", "structure", "30d", "state"),
    _D("market_correlation_7d", "correlation of bar returns with the equal-weight market", "structure", "7d", "-1..1"),
    _D("market_beta_7d", "beta of bar returns to the equal-weight market", "structure", "7d", "ratio"),
    _D("relative_strength_7d", "7d return minus the market's 7d return", "structure", "7d", "%"),
    _D("age_days", "days since the first trade seen", "structure", "all", "days"),
    # --- sentiment
    _D("sentiment_24h", "mean VADER compound score of posts, 24h (0 without posts)", "sentiment", "24h", "-1..1"),
    _D("sentiment_7d", "mean VADER compound score of posts, 7d (0 without posts)", "sentiment", "7d", "-1..1"),
    _D("mentions_24h", "posts naming the token, 24h", "sentiment", "24h", "count"),
    _D("mentions_7d", "posts naming the token, 7d", "sentiment", "7d", "count"),
    _D("mentions_change_7d", "posts in the last 7d against the 7d before", "sentiment", "14d", "%"),
    _D("positive_share_24h", "share of 24h posts scored positive (compound > 0.05)", "sentiment", "24h", "ratio"),
)
del _D
REGISTRY_BY_NAME: dict[str, DataPoint] = {point.name: point for point in REGISTRY}
HISTORICAL_NAMES: tuple[str, ...] = tuple(point.name for point in REGISTRY if point.historical)


# Source series of a panel: name -> how missing buckets are filled by the loader.
PANEL_SERIES: dict[str, str] = {
    "close": "ffill",
    "high": "close",
    "low": "close",
    "volume_usd": "zero",
    "buy_volume_usd": "zero",
    "trades": "zero",
    "liquidity_usd": "ffill",
    "holders": "ffill",
    "new_holders": "zero",
    "whale_buy_usd": "zero",
    "whale_sell_usd": "zero",
    "whale_buys": "zero",
    "whale_sells": "zero",
    "whale_transfers": "zero",
    "transfers": "zero",
    "active_addresses": "zero",
    "swaps": "zero",
    "unique_traders": "zero",
    "sentiment_sum": "zero",
    "mentions": "zero",
    "positive_mentions": "zero",
}


@dataclass
class MarketPanel:
    """Wide arrays, rows = buckets (ascending, no gaps), columns = tokens.

    ``series`` holds every name in ``PANEL_SERIES`` as a (T, N) float array: ``close`` is NaN
    before a token's first trade and carried forward after it, ``high``/``low`` equal the
    close in buckets without trades, flow series are 0 where nothing happened. Snapshot
    arrays are (N,): ``supply`` in whole tokens, holder distribution shares 0-1 (NaN when
    unknown), ``fee`` the pool fee as a fraction.
    """

    interval: str
    times: np.ndarray  # datetime64[s], bucket starts
    token_ids: np.ndarray  # int64
    series: dict[str, np.ndarray]
    supply: np.ndarray
    top10_share: np.ndarray
    top1_share: np.ndarray
    gini: np.ndarray
    fee: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bars_per_day(self) -> int:
        return 24 if self.interval == "1h" else 1

    def take(self, columns: np.ndarray | list[int]) -> MarketPanel:
        """The same panel restricted to some tokens (by column position)."""
        cols = np.asarray(columns)
        return MarketPanel(
            interval=self.interval,
            times=self.times,
            token_ids=self.token_ids[cols],
            series={k: v[:, cols] for k, v in self.series.items()},
            supply=self.supply[cols],
            top10_share=self.top10_share[cols],
            top1_share=self.top1_share[cols],
            gini=self.gini[cols],
            fee=None if self.fee is None else self.fee[cols],
            extra={k: v for k, v in self.extra.items() if k != "first_priced"},  # per-column caches
        )


# ------------------------------------------------------------------------------------------
# Row helpers. ``x`` is a (S, N) array of the working segment; ``rows`` are the requested
# rows within it. Values are computed at those rows only: for a few rows each is a reduction
# over its trailing slice (w x N), for many rows one cumulative pass over the segment.

ROW_LOOP_MAX = 48  # above this many requested rows, one pass over the segment is cheaper
EMA_WARMUP_BARS = 240  # (13/14)^240 < 2e-8: an EMA started this far back has forgotten its start


def _at_sum(x: np.ndarray, w: int, rows: np.ndarray, *, clip: bool = False) -> np.ndarray:
    """Sum of rows ``r - w + 1 .. r`` for each requested ``r``.

    Where that reaches before row 0 the result is NaN, or with ``clip`` the sum of the rows
    there are. Clip flows (volume, counts, whale USD): a panel starts at its market's first
    candle or a month before the first requested row (longer than any window), so the rows
    before row 0 hold no activity, and NaN there would make a young market's 24h volume
    depend on the hour of the day its grid happened to start. A row before the grid
    (``r < 0``) then sums to 0. Youth is judged separately, by ``_Context.mask``.
    """
    out = np.full((len(rows), x.shape[1]), np.nan)
    first = 0 if clip else None
    if len(rows) <= ROW_LOOP_MAX:
        for i, r in enumerate(rows):
            if r + 1 >= w:
                out[i] = x[r + 1 - w : r + 1].sum(axis=0, dtype=np.float64)
            elif first is not None:
                out[i] = x[first : max(0, r + 1)].sum(axis=0, dtype=np.float64)
        return out
    cs = np.zeros((len(x) + 1, x.shape[1]))
    np.cumsum(x, axis=0, dtype=np.float64, out=cs[1:])
    if clip:
        end = np.clip(rows + 1, 0, None)
        return cs[end] - cs[np.clip(rows + 1 - w, 0, None)]
    ok = rows + 1 >= w
    out[ok] = cs[rows[ok] + 1] - cs[rows[ok] + 1 - w]
    return out


def _at_mean(x: np.ndarray, w: int, rows: np.ndarray) -> np.ndarray:
    return _at_sum(x, w, rows) / w


def _at_extreme(x: np.ndarray, w: int, rows: np.ndarray, *, high: bool, clip: bool = False) -> np.ndarray:
    """Max (or min) of rows ``r - w + 1 .. r``; before row 0 NaN, or with ``clip`` the extreme
    of the rows there are (as in ``_at_sum``)."""
    out = np.full((len(rows), x.shape[1]), np.nan)
    reduce = np.fmax.reduce if high else np.fmin.reduce
    if len(rows) <= ROW_LOOP_MAX:
        for i, r in enumerate(rows):
            if r + 1 >= w or (clip and r >= 0):
                out[i] = reduce(x[max(0, r + 1 - w) : r + 1], axis=0)
        return out
    # origin shifts the window to end at the current row (trailing, no look-ahead); with
    # mode="nearest" the rows before row 0 repeat row 0, which leaves a clipped extreme right.
    filt = maximum_filter1d if high else minimum_filter1d
    full = filt(np.asarray(x, dtype=np.float64), size=w, axis=0, origin=(w - 1) // 2, mode="nearest")
    ok = (rows >= 0) if clip else (rows + 1 >= w)
    out[ok] = full[rows[ok]]
    return out


def _at_lag(x: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
    out = np.full((len(rows), x.shape[1]), np.nan)
    ok = rows >= k
    out[ok] = x[rows[ok] - k]
    return out


EMA_ROW_LOOP_MIN_COLUMNS = 64  # from this many tokens, stepping down the rows beats lfilter


def _ema(x: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential moving average down the rows, started at the first row's value.

    Many tokens: one step per row over all tokens at once (lfilter runs one filter per
    column, ~20x slower for 10,000 short columns). Few tokens (training panels, one-token
    loops): lfilter. Both compute y[t] = alpha * x[t] + (1 - alpha) * y[t - 1].
    """
    if x.shape[1] < EMA_ROW_LOOP_MIN_COLUMNS:
        zi = ((1.0 - alpha) * x[0])[np.newaxis, :]
        y, _ = lfilter([alpha], [1.0, alpha - 1.0], x, axis=0, zi=zi)
        return y
    y = np.empty(x.shape, dtype=np.float64)
    keep = 1.0 - alpha
    level = np.array(x[0], dtype=np.float64)
    step = np.empty_like(level)
    for t in range(len(x)):
        np.multiply(level, keep, out=level)
        np.multiply(x[t], alpha, out=step)
        level += step
        y[t] = level
    return y


def _pct(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """100 * (a / b - 1), NaN where b is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, (a / b - 1.0) * 100.0, np.nan)


def _div(a: np.ndarray, b: np.ndarray, default: float = np.nan) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / b, default)


def _std(s1: np.ndarray, s2: np.ndarray, w: int) -> np.ndarray:
    mean = s1 / w
    return np.sqrt(np.clip(s2 / w - mean * mean, 0.0, None))


def _max_drawdown_at(close: np.ndarray, w: int, rows: np.ndarray) -> np.ndarray:
    """Exact peak-to-trough within each trailing window (loops over requested rows only)."""
    out = np.full((len(rows), close.shape[1]), np.nan)
    for i, row in enumerate(rows):
        if row + 1 < w:
            continue
        seg = close[row + 1 - w : row + 1]
        peak = np.fmax.accumulate(seg, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[i] = np.fmax.reduce(1.0 - seg / peak, axis=0) * 100.0
    return out


def _first_priced(panel: MarketPanel) -> tuple[np.ndarray, np.ndarray]:
    """Row of each token's first price (len(times) if never priced) and that price; cached."""
    if "first_priced" not in panel.extra:
        close = panel.series["close"]
        priced = ~np.isnan(close)
        first = np.where(priced.any(axis=0), np.argmax(priced, axis=0), len(close))
        value = close[np.minimum(first, len(close) - 1), np.arange(close.shape[1])].astype(np.float64)
        panel.extra["first_priced"] = (first, np.where(first < len(close), value, np.nan))
    return panel.extra["first_priced"]


class _Context:
    """The panel segment the requested rows need, with prices cleaned and cached helpers."""

    def __init__(self, panel: MarketPanel, rows: np.ndarray, lookback: int) -> None:
        self.panel = panel
        self.bpd = panel.bars_per_day
        lo = max(0, int(rows.min()) - lookback)
        hi = int(rows.max()) + 1
        self.rows = rows - lo  # requested rows, relative to the segment
        self.s = {name: arr[lo:hi] for name, arr in panel.series.items()}  # views, no copies
        first, first_value = _first_priced(panel)
        self.first, self.lo = first, lo
        # Bars since the first trade, inclusive (0 before it), at the requested rows: blanks
        # windows reaching before it. Over the whole segment it is only ever compared, so
        # no (S, N) integer array is kept.
        self.row_age = np.clip((rows[:, None] - first[None, :]) + 1, 0, None)
        unlisted = np.arange(lo, hi)[:, None] < first[None, :]
        # Prices before the first trade take the first price, so filters start cleanly; masked
        # later. Filled in place on one float64 copy each (high/low are NaN exactly there, or
        # where a bucket had no trade: then they are the close).
        self.close = np.array(self.s["close"], dtype=np.float64)
        fill = np.broadcast_to(first_value[None, :], self.close.shape)
        np.copyto(self.close, fill, where=unlisted)
        self.high = self._filled(self.s["high"])
        self.low = self._filled(self.s["low"])
        # Bar log returns: 0 on the first row, where either price is unknown or not positive.
        logc = np.full(self.close.shape, np.nan)
        np.log(self.close, out=logc, where=self.close > 0)
        self.logret = np.zeros_like(logc)
        np.subtract(logc[1:], logc[:-1], out=self.logret[1:])
        np.nan_to_num(self.logret, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        # Tokens trading at each bar (at least one bar after their first): the market's members.
        self.live = np.arange(lo, hi)[:, None] > first[None, :]
        self.cache: dict[str, np.ndarray] = {}

    def _filled(self, x: np.ndarray) -> np.ndarray:
        out = np.array(x, dtype=np.float64)
        np.copyto(out, self.close, where=np.isnan(out))
        return out

    def bars(self, hours: int) -> int | None:
        """Bars covering ``hours``; None when the window is shorter than one bar."""
        bars = hours * self.bpd / 24
        return int(bars) if bars >= 1 and float(bars).is_integer() else None

    def mask(self, values: np.ndarray, need_bars: int) -> np.ndarray:
        """NaN where the token has fewer than ``need_bars`` bars of trading at the row."""
        return np.where(self.row_age >= need_bars, values, np.nan)

    def at(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x[self.rows], dtype=np.float64)

    def tail(self) -> tuple[slice, np.ndarray]:
        """The slice an EMA needs (warm-up before the first requested row) and rows within it."""
        start = max(0, int(self.rows.min()) - EMA_WARMUP_BARS)
        return slice(start, None), self.rows - start

    def sum(self, name_or_x: str | np.ndarray, w: int) -> np.ndarray:
        x = self.s[name_or_x] if isinstance(name_or_x, str) else name_or_x
        return _at_sum(x, w, self.rows)

    def flow(self, name_or_x: str | np.ndarray, w: int) -> np.ndarray:
        """A flow's total over the last ``w`` bars (volume, counts, USD): clipped at row 0."""
        x = self.s[name_or_x] if isinstance(name_or_x, str) else name_or_x
        return _at_sum(x, w, self.rows, clip=True)

    def nan(self) -> np.ndarray:
        return np.full((len(self.rows), self.close.shape[1]), np.nan)


Family = Callable[[_Context], dict[str, np.ndarray]]
RETURN_WINDOWS = (("1h", 1), ("4h", 4), ("12h", 12), ("24h", 24), ("3d", 72), ("7d", 168), ("14d", 336), ("30d", 720))


def _momentum(c: _Context) -> dict[str, np.ndarray]:
    close, rows, out = c.close, c.rows, {}
    now = c.at(close)
    for label, hours in RETURN_WINDOWS:
        w = c.bars(hours)
        out[f"ret_{label}"] = c.mask(_pct(now, _at_lag(close, w, rows)), w + 1) if w else c.nan()
    # Indicators with recursive smoothing run on the warm-up tail only.
    span, trows = c.tail()
    tc, th, tl = close[span], c.high[span], c.low[span]
    delta = np.diff(tc, axis=0, prepend=tc[:1])
    for period in (14, 6):
        gain = _ema(np.clip(delta, 0, None), 1.0 / period)[trows]
        loss = _ema(np.clip(-delta, 0, None), 1.0 / period)[trows]
        rsi = np.where(loss > 0, 100.0 - 100.0 / (1.0 + _div(gain, loss, 0.0)), np.where(gain > 0, 100.0, 50.0))
        out[f"rsi_{period}"] = c.mask(rsi, period + 1)
    ema12, ema26 = _ema(tc, 2 / 13), _ema(tc, 2 / 27)
    macd_line = ema12 - ema26
    signal = _ema(macd_line, 2 / 10)[trows]
    macd_line, ema12, ema26 = macd_line[trows], ema12[trows], ema26[trows]
    out["macd"] = c.mask(_div(macd_line, now) * 100, 26)
    out["macd_signal"] = c.mask(_div(signal, now) * 100, 35)
    out["macd_hist"] = c.mask(_div(macd_line - signal, now) * 100, 35)
    out["ema_gap_12"] = c.mask(_pct(now, ema12), 12)
    out["ema_gap_26"] = c.mask(_pct(now, ema26), 26)
    # ADX (Wilder, 14 bars).
    prev_close = np.vstack([tc[:1], tc[:-1]])
    prev_high, prev_low = np.vstack([th[:1], th[:-1]]), np.vstack([tl[:1], tl[:-1]])
    tr = np.fmax(th - tl, np.fmax(np.abs(th - prev_close), np.abs(tl - prev_close)))
    up, down = th - prev_high, prev_low - tl
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    atr = _ema(tr, 1 / 14)
    plus_di = 100 * _div(_ema(plus_dm, 1 / 14), atr, 0.0)
    minus_di = 100 * _div(_ema(minus_dm, 1 / 14), atr, 0.0)
    dx = 100 * _div(np.abs(plus_di - minus_di), plus_di + minus_di, 0.0)
    out["adx_14"] = c.mask(_ema(dx, 1 / 14)[trows], 28)
    out["plus_di_14"] = c.mask(plus_di[trows], 15)
    out["minus_di_14"] = c.mask(minus_di[trows], 15)
    c.cache["atr_14"] = atr[trows]
    sma = {}
    for label, hours in (("24h", 24), ("7d", 168), ("30d", 720)):
        w = c.bars(hours)
        sma[label] = _at_mean(close, w, rows) if w else None
        out[f"ma_gap_{label}"] = c.mask(_pct(now, sma[label]), w) if w else c.nan()
    w7, w30 = c.bars(168), c.bars(720)
    out["ma_cross_24h_7d"] = c.mask(_pct(sma["24h"], sma["7d"]), w7) if sma["24h"] is not None else c.nan()
    out["golden_cross_7d_30d"] = c.mask((sma["7d"] > sma["30d"]).astype(float), w30)
    c.cache["sma_7d"], c.cache["sma_30d"] = sma["7d"], sma["30d"]
    for bars in (12, 48):
        out[f"roc_{bars}"] = c.mask(_pct(now, _at_lag(close, bars, rows)), bars + 1)
    hi14, lo14 = _at_extreme(c.high, 14, rows, high=True), _at_extreme(c.low, 14, rows, high=False)
    out["stoch_k_14"] = c.mask(100 * _div(now - lo14, hi14 - lo14, 0.5), 14)
    hi30, lo30 = _at_extreme(c.high, w30, rows, high=True), _at_extreme(c.low, w30, rows, high=False)
    out["price_vs_high_30d"] = c.mask(-_pct(now, hi30), w30)  # >= 0: percent below the high
    out["price_vs_low_30d"] = c.mask(_pct(now, lo30), w30)
    w24 = c.bars(24)
    up_bars = c.logret > 0
    out["up_bar_share_24h"] = c.mask(_at_mean(up_bars, w24, rows), w24 + 1) if w24 else c.nan()
    s1, s2 = _at_sum(close, 20, rows), _at_sum(close * close, 20, rows)
    mid, sd = s1 / 20, _std(s1, s2, 20)
    out["bollinger_pct_b_20"] = c.mask(_div(now - (mid - 2 * sd), 4 * sd, 0.5), 20)
    out["bollinger_width_20"] = c.mask(_div(4 * sd, mid) * 100, 20)
    return out


def _volatility(c: _Context) -> dict[str, np.ndarray]:
    r, rows, out = c.logret, c.rows, {}
    annual = np.sqrt(365 * c.bpd)
    r2 = r * r
    for label, hours in (("24h", 24), ("7d", 168), ("30d", 720)):
        w = c.bars(hours)
        out[f"volatility_{label}"] = c.mask(_std(c.sum(r, w), c.sum(r2, w), w) * annual * 100, w + 1) if w else c.nan()
    w = c.bars(168)
    neg = np.minimum(r, 0.0)
    down = np.sqrt(c.sum(neg * neg, w) / w)
    out["downside_volatility_7d"] = c.mask(down * annual * 100, w + 1)
    now = c.at(c.close)
    out["atr_14"] = c.mask(_div(c.cache["atr_14"], now) * 100, 15)
    for label, hours in (("7d", 168), ("30d", 720)):
        wd = c.bars(hours)
        out[f"max_drawdown_{label}"] = c.mask(_max_drawdown_at(c.close, wd, rows), wd)
    w24 = c.bars(24) or 1
    hi, lo = _at_extreme(c.high, w24, rows, high=True), _at_extreme(c.low, w24, rows, high=False)
    out["range_24h"] = c.mask(_div(hi - lo, now) * 100, w24)
    m1, m2 = c.sum(r, w) / w, c.sum(r2, w) / w
    m3, m4 = c.sum(r2 * r, w) / w, c.sum(r2 * r2, w) / w
    var = np.clip(m2 - m1 * m1, 0, None)
    sd = np.sqrt(var)
    # Central moments from raw moments over the window.
    mu3 = m3 - 3 * m1 * m2 + 2 * m1**3
    mu4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1**4
    out["skew_7d"] = c.mask(_div(mu3, sd**3, 0.0), w + 1)
    out["kurtosis_7d"] = c.mask(_div(mu4, var * var, 3.0) - 3.0, w + 1)
    day_mean, day_sd = m1 * c.bpd, sd * np.sqrt(c.bpd)
    out["var_95_7d"] = c.mask(np.clip(-(day_mean - 1.645 * day_sd), 0, None) * 100, w + 1)
    out["sharpe_7d"] = c.mask(_div(m1, sd, 0.0) * annual, w + 1)
    out["sortino_7d"] = c.mask(_div(m1, down, 0.0) * annual, w + 1)
    return out


def _volume(c: _Context) -> dict[str, np.ndarray]:
    s, rows, out = c.s, c.rows, {}
    vol = s["volume_usd"]
    w24, w7, w30 = c.bars(24) or 1, c.bars(168), c.bars(720)
    v24, v7 = c.flow(vol, w24), c.flow(vol, w7)
    out["volume_24h_usd"] = np.nan_to_num(v24)
    out["volume_7d_usd"] = np.nan_to_num(v7)
    out["volume_change_24h"] = c.mask(_pct(v24, _at_sum(vol, w24, rows - w24, clip=True)), 2 * w24)
    # The last 30 daily volumes ending at each row: their mean and deviation.
    days = w30 // w24
    daily = np.stack([_at_sum(vol, w24, rows - k * w24, clip=True) for k in range(days)])
    dmean = daily.mean(axis=0)
    dstd = np.sqrt(np.clip((daily * daily).mean(axis=0) - dmean * dmean, 0, None))
    out["volume_zscore_30d"] = c.mask(_div(v24 - dmean, dstd, 0.0), w30)
    out["volume_spike_1h"] = c.mask(_div(c.at(vol), v7 / w7, 0.0), w7)
    liq = c.at(s["liquidity_usd"])
    out["volume_to_liquidity_24h"] = _div(v24, liq, 0.0)
    out["buy_share_24h"] = _div(c.flow("buy_volume_usd", w24), v24, 0.5)
    out["buy_share_7d"] = _div(c.flow("buy_volume_usd", w7), v7, 0.5)
    t24 = c.flow("trades", w24)
    out["trades_24h"] = np.nan_to_num(t24)
    out["avg_trade_usd_24h"] = _div(v24, t24, 0.0)
    signed = np.sign(c.logret) * vol
    out["signed_volume_share_7d"] = _div(c.flow(signed, w7), v7, 0.0)
    typical = (c.high + c.low + c.close) / 3
    vwap = _div(c.flow(typical * vol, w24), v24)
    out["vwap_gap_24h"] = c.mask(np.where(np.isnan(vwap), 0.0, _pct(c.at(c.close), vwap)), 1)
    c.cache["v7"] = v7
    return out


def _impact(depth_usd: np.ndarray, size_usd: float, fee: np.ndarray | float) -> np.ndarray:
    """Percent the average buy price exceeds spot for ``size_usd`` into a V2 pool.

    With quote reserve ``R`` (USD) and fee ``f``: tokens out = T * x(1-f) / (R + x(1-f)),
    average price = x / out, spot = R / T, so impact = (R + x(1-f)) / (R(1-f)) - 1; the
    token-side reserve cancels, so the quote-side depth alone decides it.
    """
    keep = 1.0 - fee
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(depth_usd > 0, ((depth_usd + size_usd * keep) / (depth_usd * keep) - 1.0) * 100.0, np.nan)


def _liquidity(c: _Context) -> dict[str, np.ndarray]:
    liq, rows, out = c.s["liquidity_usd"], c.rows, {}
    w24, w7 = c.bars(24) or 1, c.bars(168)
    now = np.nan_to_num(c.at(liq))
    out["liquidity_usd"] = now
    out["liquidity_change_24h"] = _pct(now, _at_lag(liq, w24, rows))
    out["liquidity_change_7d"] = _pct(now, _at_lag(liq, w7, rows))
    peak = _at_extreme(liq, w7, rows, high=True, clip=True)
    out["liquidity_drawdown_7d"] = np.where(peak > 0, (1 - _div(now, peak, 0.0)) * 100, 0.0)
    depth = now / 2
    fee = DEFAULT_FEE if c.panel.fee is None else c.panel.fee[np.newaxis, :]
    out["depth_usd"] = depth
    out["price_impact_1k"] = _impact(depth, IMPACT_SIZES_USD[0], fee)
    out["price_impact_10k"] = _impact(depth, IMPACT_SIZES_USD[1], fee)
    abs_move = c.sum(np.abs(c.logret) * 100, w7)
    out["amihud_illiquidity_7d"] = c.mask(_div(abs_move, c.cache["v7"] / 1e6, np.nan), w7 + 1)
    mcap = c.at(c.close) * c.panel.supply[np.newaxis, :]
    out["liquidity_to_mcap"] = _div(now, mcap)
    return out


def _holders(c: _Context) -> dict[str, np.ndarray]:
    h, rows, out = c.s["holders"], c.rows, {}
    w24, w7 = c.bars(24) or 1, c.bars(168)
    now = c.at(h)
    out["holder_count"] = now
    out["holder_growth_24h"] = _pct(now, _at_lag(h, w24, rows))
    out["holder_growth_7d"] = _pct(now, _at_lag(h, w7, rows))
    out["new_holders_24h"] = c.flow("new_holders", w24)
    out["new_holders_7d"] = c.flow("new_holders", w7)
    k = len(rows)
    out["top10_share"] = np.tile(c.panel.top10_share, (k, 1)).astype(float)
    out["top1_share"] = np.tile(c.panel.top1_share, (k, 1)).astype(float)
    out["holder_gini"] = np.tile(c.panel.gini, (k, 1)).astype(float)
    return out


def _whales(c: _Context) -> dict[str, np.ndarray]:
    s, rows, out = c.s, c.rows, {}
    w24, w7 = c.bars(24) or 1, c.bars(168)
    net = np.asarray(s["whale_buy_usd"], dtype=np.float64) - s["whale_sell_usd"]
    n24, n7 = c.flow(net, w24), c.flow(net, w7)
    out["whale_net_flow_24h_usd"] = n24
    out["whale_net_flow_7d_usd"] = n7
    out["whale_buys_24h"] = c.flow("whale_buys", w24)
    out["whale_sells_24h"] = c.flow("whale_sells", w24)
    out["whale_buys_7d"] = c.flow("whale_buys", w7)
    out["whale_sells_7d"] = c.flow("whale_sells", w7)
    positive = np.stack([np.nan_to_num(_at_sum(net, w24, rows - d * w24, clip=True)) > 0 for d in range(14)])
    out["whale_accumulation_streak"] = np.cumprod(positive, axis=0).sum(axis=0).astype(float)
    out["whale_net_flow_to_liquidity_7d"] = _div(n7, c.at(s["liquidity_usd"]), 0.0)
    out["whale_transfers_24h"] = c.flow("whale_transfers", w24)
    return out


def _activity(c: _Context) -> dict[str, np.ndarray]:
    s, rows, out = c.s, c.rows, {}
    w24, w7 = c.bars(24) or 1, c.bars(168)
    t7, u7 = c.flow("transfers", w7), c.flow("unique_traders", w7)
    t7_prev, u7_prev = (
        _at_sum(s["transfers"], w7, rows - w7, clip=True),
        _at_sum(s["unique_traders"], w7, rows - w7, clip=True),
    )
    out["transfers_24h"] = c.flow("transfers", w24)
    out["transfers_7d"] = t7
    out["active_addresses_24h"] = c.flow("active_addresses", w24)
    out["unique_traders_24h"] = c.flow("unique_traders", w24)
    out["swaps_24h"] = c.flow("swaps", w24)
    out["transfers_change_7d"] = c.mask(np.where(t7_prev > 0, _pct(t7, t7_prev), 0.0), 2 * w7)
    out["traders_change_7d"] = c.mask(np.where(u7_prev > 0, _pct(u7, u7_prev), 0.0), 2 * w7)
    return out


def _structure(c: _Context) -> dict[str, np.ndarray]:
    rows, out = c.rows, {}
    w7, w30 = c.bars(168), c.bars(720)
    now = c.at(c.close)
    support = _at_extreme(c.low, w7, rows, high=False)
    resistance = _at_extreme(c.high, w7, rows, high=True)
    out["support_distance_7d"] = c.mask(_pct(now, support), w7)
    out["resistance_distance_7d"] = c.mask(_pct(resistance, now), w7)
    ma7, ma30 = c.cache["sma_7d"], c.cache["sma_30d"]
    trend = np.where((now > ma7) & (ma7 > ma30), 1.0, np.where((now < ma7) & (ma7 < ma30), -1.0, 0.0))
    out["trend_state"] = c.mask(trend, w30)
    # Equal-weight market: mean bar return of the tokens trading at that bar.
    r = c.logret
    live = c.live
    market = _div(np.where(live, r, 0.0).sum(axis=1), live.sum(axis=1), 0.0)[:, np.newaxis]
    sr, sm = c.sum(r, w7), _at_sum(market, w7, rows)
    cov = c.sum(r * market, w7) / w7 - (sr / w7) * (sm / w7)
    var_r = np.clip(c.sum(r * r, w7) / w7 - (sr / w7) ** 2, 0, None)
    var_m = np.clip(_at_sum(market * market, w7, rows) / w7 - (sm / w7) ** 2, 0, None)
    out["market_correlation_7d"] = c.mask(_div(cov, np.sqrt(var_r * var_m), 0.0), w7 + 1)
    out["market_beta_7d"] = c.mask(_div(cov, var_m, 0.0), w7 + 1)
    out["relative_strength_7d"] = c.mask((np.exp(sr) - np.exp(sm)) * 100, w7 + 1)
    age = c.row_age
    out["age_days"] = np.where(age > 0, age / c.bpd, np.nan)
    return out


def _sentiment(c: _Context) -> dict[str, np.ndarray]:
    s, rows, out = c.s, c.rows, {}
    w24, w7 = c.bars(24) or 1, c.bars(168)
    m24, m7 = c.flow("mentions", w24), c.flow("mentions", w7)
    out["sentiment_24h"] = _div(c.flow("sentiment_sum", w24), m24, 0.0)
    out["sentiment_7d"] = _div(c.flow("sentiment_sum", w7), m7, 0.0)
    out["mentions_24h"] = m24
    out["mentions_7d"] = m7
    prev = _at_sum(s["mentions"], w7, rows - w7, clip=True)
    out["mentions_change_7d"] = np.where(prev > 0, _pct(m7, prev), 0.0)
    out["positive_share_24h"] = _div(c.flow("positive_mentions", w24), m24, 0.0)
    return out


# Order matters: momentum caches moving averages and ATR; volume caches the 7d volume.
FAMILY_FUNCTIONS: tuple[Family, ...] = (
    _momentum,
    _volatility,
    _volume,
    _liquidity,
    _holders,
    _whales,
    _activity,
    _structure,
    _sentiment,
)


def lookback_bars(interval: str) -> int:
    """Bars before the first requested row that the longest window needs: 30 days (30 daily
    volumes for the z-score), or the EMA warm-up when that is longer."""
    return max(30 * 24 + 24, EMA_WARMUP_BARS) if interval == "1h" else max(31, EMA_WARMUP_BARS)


def data_points_compute(panel: MarketPanel, rows: np.ndarray | list[int] | None = None) -> dict[str, np.ndarray]:
    """Every registry data point at ``rows`` (default: the last row), as ``name -> (K, N)``.

    Only the segment the rows need is read, so the latest values from 90 days of hourly
    data cost the same as from 31 days.
    """
    if rows is None:
        rows = [len(panel.times) - 1]
    rows = np.asarray(rows, dtype=np.int64)
    values: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ctx = _Context(panel, rows, lookback_bars(panel.interval))
        for family in FAMILY_FUNCTIONS:
            values.update(family(ctx))
    missing = set(REGISTRY_BY_NAME) - set(values)
    extra = set(values) - set(REGISTRY_BY_NAME)
    if missing or extra:  # the registry is the contract: fail loudly if code and registry disagree
        raise RuntimeError(f"data points not in sync with the registry: missing {missing}, extra {extra}")
    return {name: values[name] for name in REGISTRY_BY_NAME}


def data_points_matrix(values: dict[str, np.ndarray], names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Stack data points into a (K * N, F) design matrix, row-major by time then token."""
    return np.stack([values[name].reshape(-1) for name in names], axis=1)
