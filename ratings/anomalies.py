"""Price-to-volume anomalies from robust z-scores (median / MAD over the previous 7 days).

For each hourly bar, the absolute log return and the log volume are compared with their
own history over the previous week (the bar itself excluded): ``z = (x - median) / (1.4826
* MAD)``. A bar is anomalous when a z-score crosses the threshold; the kind says whether
price moved without volume, volume came without a price move, or both broke out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ratings.datapoints import MarketPanel

MAD_TO_SIGMA = 1.4826
MIN_RETURN_MAD = 0.002  # log return; floors the MAD of near-constant prices
MIN_VOLUME_MAD = 0.25  # log volume; floors the MAD of near-constant volumes
ORDINARY_Z = 1.0  # below this, the other side counts as ordinary


@dataclass(frozen=True)
class AnomalyHit:
    column: int  # token column of the panel
    row: int  # bar row of the panel
    kind: str
    score: float
    reason: str


def _robust_z(history: np.ndarray, current: np.ndarray, floor: float) -> np.ndarray:
    median = np.median(history, axis=0)
    mad = np.median(np.abs(history - median), axis=0)
    return (current - median) / (MAD_TO_SIGMA * np.maximum(mad, floor))


def anomalies_detect(
    panel: MarketPanel,
    rows: np.ndarray | list[int],
    *,
    threshold: float = 6.0,
    min_volume_usd: float = 100.0,
    min_move_pct: float = 2.0,
    window_bars: int = 168,
) -> list[AnomalyHit]:
    """Anomalous (token, bar) pairs among ``rows``; each step compares all tokens at once."""
    close = panel.series["close"]
    volume = panel.series["volume_usd"]
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = np.log(np.where(close > 0, close, np.nan))
    ret = np.abs(np.nan_to_num(np.diff(logc, axis=0, prepend=logc[:1])))
    logv = np.log1p(volume)
    hits: list[AnomalyHit] = []
    for row in np.asarray(rows, dtype=np.int64):
        if row < window_bars:
            continue
        hist = slice(row - window_bars, row)
        live = ~np.isnan(close[row - window_bars])  # a full week of trading history
        z_ret = _robust_z(ret[hist], ret[row], MIN_RETURN_MAD)
        z_vol = _robust_z(logv[hist], logv[row], MIN_VOLUME_MAD)
        move_pct = (np.exp(ret[row]) - 1) * 100
        vol_ok = volume[row] >= min_volume_usd
        moved = move_pct >= min_move_pct
        both = live & moved & vol_ok & (z_ret >= threshold) & (z_vol >= threshold)
        vol_only = live & vol_ok & (z_vol >= threshold) & ~both
        ret_only = live & moved & (z_ret >= threshold) & ~both
        typical_vol = np.expm1(np.median(logv[hist], axis=0))
        for col in np.flatnonzero(both | vol_only | ret_only):
            zr, zv = float(z_ret[col]), float(z_vol[col])
            pct, vol, usual = float(move_pct[col]), float(volume[row, col]), float(typical_vol[col])
            if both[col]:
                kind = "price_shock"
                score = min(zr, zv)
                reason = (
                    f"price moved {pct:.1f}% in one hour on ${vol:,.0f} of volume; both far above their usual levels"
                )
            elif vol_only[col] and zr < ORDINARY_Z:
                kind, score = "volume_without_price", zv
                reason = f"${vol:,.0f} traded in one hour (usually ${usual:,.0f}) but the price moved only {pct:.1f}%"
            elif vol_only[col]:
                kind, score = "volume_spike", zv
                reason = f"${vol:,.0f} traded in one hour, usually ${usual:,.0f}; price moved {pct:.1f}%"
            elif zv < ORDINARY_Z:
                kind, score = "price_without_volume", zr
                reason = f"price moved {pct:.1f}% in one hour on ordinary volume (${vol:,.0f}, usually ${usual:,.0f})"
            else:
                kind, score = "price_shock", zr
                reason = f"price moved {pct:.1f}% in one hour, far outside its usual hourly range"
            hits.append(AnomalyHit(int(col), int(row), kind, round(score, 2), reason))
    return hits
