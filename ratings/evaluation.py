"""Evaluation of grades and signals on history: rank correlation with forward returns,
returns by grade decile, and a signal backtest. Read-only; the commands print these."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from ratings.datapoints import MarketPanel, data_points_compute
from ratings.grading import (
    INVESTOR_HORIZON_HOURS,
    TRADER_HORIZON_HOURS,
    forward_log_return,
    signal_backtest,
    signal_states,
)
from ratings.models import GradeModel
from ratings.services import TrainingData, grades_compute, signal_bands


@dataclass
class HorizonReport:
    horizon: str
    grader: str
    rows: int
    spearman: float  # pooled over (time, token)
    spearman_cross_section: float  # mean over times of the per-time rank correlation
    decile_returns: list[float] = field(default_factory=list)  # mean forward return, %, lowest decile first


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(spearmanr(a, b).statistic)


def horizon_report(
    *, data: TrainingData, chain_id: int | None, horizon: str, holdout_from: np.datetime64
) -> HorizonReport:
    hours = TRADER_HORIZON_HOURS if horizon == GradeModel.Horizon.TRADER else INVESTOR_HORIZON_HOURS
    keep = data.panel.times[data.rows] >= holdout_from
    rows = data.rows[keep]
    values = {name: v[keep] for name, v in data.values.items()}
    graded = grades_compute(chain_id=chain_id, values=values, horizon=horizon)
    forward = forward_log_return(data.panel.series["close"], rows, hours)
    ok = np.isfinite(forward)
    grades, returns = graded.grades[ok], forward[ok]
    per_time = [_spearman(graded.grades[k][ok[k]], forward[k][ok[k]]) for k in range(len(rows)) if ok[k].sum() >= 5]
    deciles = []
    if len(grades) >= 10:
        # Deciles by rank: equal-sized even where many grades tie (e.g. at the tradability cap).
        bucket = np.empty(len(grades), dtype=np.int64)
        bucket[np.argsort(grades, kind="stable")] = np.arange(len(grades)) * 10 // len(grades)
        deciles = [
            float((np.exp(returns[bucket == d].mean()) - 1) * 100) if (bucket == d).any() else float("nan")
            for d in range(10)
        ]
    return HorizonReport(
        horizon=horizon,
        grader=graded.version,
        rows=int(ok.sum()),
        spearman=_spearman(grades, returns),
        spearman_cross_section=float(np.nanmean(per_time)) if per_time else float("nan"),
        decile_returns=deciles,
    )


@dataclass
class BacktestReport:
    tokens: int
    mean_signal_return: float  # %, following the bullish signal (long while bullish, else flat)
    mean_hold_return: float  # %, holding throughout
    median_signal_return: float
    median_hold_return: float
    beat_hold_share: float  # share of tokens where following the signal beat holding
    per_token: list[tuple[int, float, float, float]]  # token id, signal %, hold %, hours in market


def backtest(panel: MarketPanel, trader_grades: np.ndarray, start_row: int) -> BacktestReport:
    """Signals replayed from hourly Trader Grades (rows ``start_row..``) against holding."""
    states = signal_states(trader_grades, signal_bands())
    close = panel.series["close"][start_row : start_row + len(trader_grades)]
    result = signal_backtest(close, states)
    live = np.isfinite(close[0]) & np.isfinite(close[-1])
    sig, hold = result["signal_return"][live] * 100, result["hold_return"][live] * 100
    per_token = [
        (int(t), float(s), float(h), float(b))
        for t, s, h, b in zip(panel.token_ids[live], sig, hold, result["bars_in_market"][live], strict=True)
    ]
    return BacktestReport(
        tokens=int(live.sum()),
        mean_signal_return=float(sig.mean()) if len(sig) else float("nan"),
        mean_hold_return=float(hold.mean()) if len(hold) else float("nan"),
        median_signal_return=float(np.median(sig)) if len(sig) else float("nan"),
        median_hold_return=float(np.median(hold)) if len(hold) else float("nan"),
        beat_hold_share=float((sig > hold).mean()) if len(sig) else float("nan"),
        per_token=per_token,
    )


def hourly_trader_grades(panel: MarketPanel, *, chain_id: int | None, start_row: int) -> np.ndarray:
    """Trader Grades at every hour from ``start_row`` to the end, in chunks of a week."""
    chunks = []
    for lo in range(start_row, len(panel.times), 168):
        rows = np.arange(lo, min(lo + 168, len(panel.times)))
        values = data_points_compute(panel, rows)
        chunks.append(grades_compute(chain_id=chain_id, values=values, horizon=GradeModel.Horizon.TRADER).grades)
    return np.vstack(chunks)


def scenario_grades(
    *, scenarios_path: Path, token_ids: np.ndarray, addresses: dict[int, str], trader: np.ndarray, investor: np.ndarray
) -> dict[str, tuple[int, float, float]]:
    """Mean final grades by scripted scenario kind (ground truth from the simulator)."""
    if not scenarios_path.exists():
        return {}
    truth = json.loads(scenarios_path.read_text())
    kind_of = {s["token"].lower(): s["scenario"] for s in truth.get("scenarios", [])}
    groups: dict[str, list[int]] = {}
    for i, token_id in enumerate(token_ids):
        kind = kind_of.get(addresses[int(token_id)].lower(), "organic")
        groups.setdefault(kind, []).append(i)
    return {
        kind: (len(cols), float(np.mean(trader[cols])), float(np.mean(investor[cols])))
        for kind, cols in sorted(groups.items())
    }
