"""Hand-made panels: a few tokens, series chosen so every data point has a known answer."""

from __future__ import annotations

import numpy as np

from ratings.datapoints import PANEL_SERIES, MarketPanel


def make_panel(close: np.ndarray, interval: str = "1h", **series: np.ndarray) -> MarketPanel:
    """A panel from a (T, N) close array; other series default to zero (or the close)."""
    close = np.asarray(close, dtype=float)
    if close.ndim == 1:
        close = close[:, None]
    t, n = close.shape
    data = {name: np.zeros((t, n)) for name in PANEL_SERIES}
    data["close"], data["high"], data["low"] = close, close.copy(), close.copy()
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        data[name] = np.broadcast_to(values if values.ndim == 2 else values[:, None], (t, n)).copy()
    step = np.timedelta64(3600 if interval == "1h" else 86400, "s")
    times = np.datetime64("2025-01-01T00:00:00") + np.arange(t) * step
    return MarketPanel(
        interval,
        times,
        np.arange(1, n + 1),
        data,
        supply=np.full(n, 1_000_000.0),
        top10_share=np.full(n, 0.4),
        top1_share=np.full(n, 0.1),
        gini=np.full(n, 0.6),
        fee=np.full(n, 0.003),
    )
