"""Grades from data points: the transparent rule-based v0 and the gradient-boosted models.

Both graders are pure functions of data-point matrices (no database), vectorised over tokens.

Rule-based (``rules-v0``): each rule maps one data point through
``tanh((x - center) / scale)`` into -1..1 (a negative ``scale`` means lower is better;
missing data scores 0), and the grade is ``50 + 50 * sum(weight * score)`` with weights
summing to 1, so a rule's contribution is exactly ``50 * weight * score`` grade points
around the neutral 50.

Model (``gbm-<horizon>-...``): a HistGradientBoostingRegressor predicts the forward log
return of its horizon (24h for the Trader Grade, 7d for the Investor Grade); the grade is
the prediction's percentile among the model's own training predictions, so 90 means "a
better outlook than 90% of what the model saw in training". A data point's contribution is
the grade minus the grade with that data point set to its training median (per-feature
delta against the baseline), for the model's most important data points.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor

from ratings.datapoints import HISTORICAL_NAMES, REGISTRY_BY_NAME

RULES_VERSION = "rules-v0"
TRADER_HORIZON_HOURS = 24
INVESTOR_HORIZON_HOURS = 7 * 24
CONTRIBUTION_FEATURES = 8  # data points whose per-feature delta a model grade explains


@dataclass(frozen=True)
class Rule:
    name: str
    weight: float
    center: float
    scale: float
    log10: bool = False  # score log10(1 + x) instead of x (counts, USD amounts)


TRADER_RULES: tuple[Rule, ...] = (
    Rule("ret_24h", 0.12, 0.0, 10.0),
    Rule("ret_7d", 0.08, 0.0, 25.0),
    Rule("rsi_14", 0.08, 50.0, 20.0),
    Rule("macd_hist", 0.08, 0.0, 1.0),
    Rule("ma_gap_7d", 0.08, 0.0, 10.0),
    Rule("buy_share_24h", 0.10, 0.5, 0.15),
    Rule("volume_change_24h", 0.06, 0.0, 100.0),
    Rule("whale_net_flow_to_liquidity_7d", 0.12, 0.0, 0.1),
    Rule("sentiment_24h", 0.10, 0.0, 0.3),
    Rule("trend_state", 0.06, 0.0, 1.0),
    Rule("price_impact_10k", 0.06, 5.0, -5.0),
    Rule("unique_traders_24h", 0.06, 1.0, 1.0, log10=True),
)
INVESTOR_RULES: tuple[Rule, ...] = (
    Rule("liquidity_usd", 0.14, 4.5, 1.0, log10=True),
    Rule("holder_count", 0.10, 1.5, 1.0, log10=True),
    Rule("holder_growth_7d", 0.08, 0.0, 10.0),
    Rule("top10_share", 0.12, 0.5, -0.25),
    Rule("volatility_30d", 0.08, 100.0, -100.0),
    Rule("max_drawdown_30d", 0.10, 30.0, -25.0),
    Rule("ret_30d", 0.10, 0.0, 50.0),
    Rule("whale_net_flow_to_liquidity_7d", 0.08, 0.0, 0.2),
    Rule("transfers_7d", 0.06, 2.0, 1.0, log10=True),
    Rule("sentiment_7d", 0.06, 0.0, 0.3),
    Rule("age_days", 0.04, 14.0, 14.0),
    Rule("liquidity_drawdown_7d", 0.04, 20.0, -20.0),
)


@dataclass
class GradeResult:
    """Grades (N,) 0-100 and contributions (N, F) in grade points for ``names`` (F,)."""

    grades: np.ndarray
    names: list[str]
    contributions: np.ndarray
    values: np.ndarray
    version: str


def rules_grade(values: dict[str, np.ndarray], rules: tuple[Rule, ...]) -> GradeResult:
    """Rule-based grade of every token; ``values`` maps data point -> (N,) latest values."""
    names = [rule.name for rule in rules]
    x = np.stack([np.asarray(values[rule.name], dtype=float) for rule in rules], axis=1)
    weight = np.array([rule.weight for rule in rules])
    center = np.array([rule.center for rule in rules])
    scale = np.array([rule.scale for rule in rules])
    logs = np.array([rule.log10 for rule in rules])
    with np.errstate(invalid="ignore", divide="ignore"):
        xt = np.where(logs, np.log10(1.0 + np.clip(x, 0.0, None)), x)
        score = np.nan_to_num(np.tanh((xt - center) / scale))
    contributions = 50.0 * weight * score
    grades = np.clip(50.0 + contributions.sum(axis=1), 0.0, 100.0)
    return GradeResult(grades, names, contributions, x, RULES_VERSION)


# --- the gradient-boosted models ----------------------------------------------------------------


@dataclass
class ModelArtifact:
    """What ``joblib`` stores for one model version."""

    version: str
    horizon: str
    features: list[str]
    estimator: HistGradientBoostingRegressor
    prediction_quantiles: np.ndarray  # 101 quantiles of the training predictions
    baseline: np.ndarray  # per-feature training median
    importance: np.ndarray  # mean |grade delta| per feature on training rows
    meta: dict[str, Any] = field(default_factory=dict)

    def grades_from_predictions(self, predictions: np.ndarray) -> np.ndarray:
        q = self.prediction_quantiles
        # Percentile of each prediction among the training predictions; ties spread evenly.
        lo = np.searchsorted(q, predictions, side="left")
        hi = np.searchsorted(q, predictions, side="right")
        return np.clip((lo + hi) / 2 / (len(q) - 1) * 100.0, 0.0, 100.0)

    def grade(self, x: np.ndarray) -> np.ndarray:
        return self.grades_from_predictions(self.estimator.predict(x))

    def explain(self, x: np.ndarray, top: int = CONTRIBUTION_FEATURES) -> GradeResult:
        """Grades and per-feature deltas vs the baseline for the ``top`` most important features."""
        grades = self.grade(x)
        order = np.argsort(-self.importance)[:top]
        n = len(x)
        stacked = np.repeat(x[np.newaxis], len(order), axis=0)  # (K, N, F)
        for k, j in enumerate(order):
            stacked[k, :, j] = self.baseline[j]
        without = self.grade(stacked.reshape(-1, x.shape[1])).reshape(len(order), n)
        contributions = (grades[np.newaxis, :] - without).T  # (N, K)
        names = [self.features[j] for j in order]
        return GradeResult(grades, names, contributions, x[:, order], self.version)


def forward_log_return(close: np.ndarray, rows: np.ndarray, horizon_bars: int) -> np.ndarray:
    """log(close[t + h] / close[t]) for each requested row (K, N); NaN past the end or unpriced."""
    out = np.full((len(rows), close.shape[1]), np.nan)
    ok = rows + horizon_bars < len(close)
    with np.errstate(divide="ignore", invalid="ignore"):
        now, later = close[rows[ok]], close[rows[ok] + horizon_bars]
        out[ok] = np.where((now > 0) & (later > 0), np.log(later / now), np.nan)
    return out


def _metrics(prediction: np.ndarray, target: np.ndarray) -> dict[str, float]:
    if len(target) < 3:
        return {"rows": float(len(target))}
    rho = spearmanr(prediction, target).statistic
    residual = target - prediction
    total = np.sum((target - target.mean()) ** 2)
    return {
        "rows": float(len(target)),
        "spearman": float(0.0 if np.isnan(rho) else rho),
        "r2": float(1.0 - np.sum(residual**2) / total) if total > 0 else 0.0,
        "mae": float(np.mean(np.abs(residual))),
    }


@dataclass
class TrainingSet:
    x: np.ndarray  # (rows, F)
    y: np.ndarray  # (rows,)
    times: np.ndarray  # (rows,) datetime64 of each feature row
    features: list[str]


def model_features() -> list[str]:
    """Data points a model may use: those with history."""
    return [name for name in HISTORICAL_NAMES if name in REGISTRY_BY_NAME]


MIN_FIT_ROWS = 40  # rows before the purge gap: two leaves of min_samples_leaf (20)
TRAINING_WINDOW_TOO_SHORT = (
    "training window too short: {train} rows before the purge gap, {test} held out; need {needed}"
)


class TrainingWindowTooShort(ValueError):
    """The history is too short for the horizon: the purged split leaves no training rows."""


def model_fit(
    training: TrainingSet,
    *,
    horizon: str,
    horizon_bars: int,
    bar: np.timedelta64,
    version: str,
    holdout_fraction: float = 0.25,
    random_state: int = 0,
) -> tuple[ModelArtifact, dict[str, Any]]:
    """Fit on the earlier part of history, evaluate on the later held-out part.

    The training window ends ``horizon`` before the held-out window starts, so no training
    target overlaps a held-out one (purged split).
    """
    order = np.argsort(training.times, kind="stable")
    x, y, times = training.x[order], training.y[order], training.times[order]
    unique_times = np.unique(times)
    holdout_start = unique_times[int(len(unique_times) * (1 - holdout_fraction))]
    train_end = holdout_start - horizon_bars * bar
    train = times < train_end
    test = times >= holdout_start
    if int(train.sum()) < MIN_FIT_ROWS or not test.any():
        # A horizon as long as the history leaves nothing before the purge gap.
        raise TrainingWindowTooShort(
            TRAINING_WINDOW_TOO_SHORT.format(train=int(train.sum()), test=int(test.sum()), needed=MIN_FIT_ROWS)
        )
    estimator = HistGradientBoostingRegressor(
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        random_state=random_state,
    )
    x_train = x[train].copy()
    # A data point with no value at all in the window (e.g. sentiment before any post) breaks
    # the binning of scikit-learn's histogram trees; as a constant it simply carries no weight.
    x_train[:, np.isnan(x_train).all(axis=0)] = 0.0
    estimator.fit(x_train, y[train])
    train_prediction = estimator.predict(x[train])
    baseline = np.nan_to_num(np.nanmedian(x_train, axis=0))
    artifact = ModelArtifact(
        version=version,
        horizon=horizon,
        features=list(training.features),
        estimator=estimator,
        prediction_quantiles=np.quantile(train_prediction, np.linspace(0, 1, 101)),
        baseline=baseline,
        importance=np.zeros(x.shape[1]),
    )
    sample = x[train][:: max(1, int(train.sum()) // 2000)]
    grades = artifact.grade(sample)
    importance = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        changed = sample.copy()
        changed[:, j] = baseline[j]
        importance[j] = np.mean(np.abs(grades - artifact.grade(changed)))
    artifact.importance = importance
    info = {
        "train_start": unique_times[0],
        "train_end": train_end,
        "holdout_start": holdout_start,
        "holdout_end": unique_times[-1],
        "train_rows": int(train.sum()),
        "holdout_rows": int(test.sum()),
        "train_metrics": _metrics(train_prediction, y[train]),
        "holdout_metrics": _metrics(estimator.predict(x[test]), y[test]) if test.any() else {"rows": 0.0},
    }
    return artifact, info


def artifact_save(artifact: ModelArtifact, path: Path) -> str:
    """Write the artifact; returns its sha256 (hex)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(artifact, path)
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactMismatch(Exception):
    """The artifact on disk is not the one the registry row pinned."""


def artifact_load(path: Path, *, sha256: str) -> ModelArtifact:
    actual = file_sha256(path)
    if actual != sha256:
        raise ArtifactMismatch(f"{path}: sha256 {actual} but the registry pinned {sha256}")
    artifact: ModelArtifact = joblib.load(path)
    return artifact


# --- signals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalBands:
    """Trader Grade levels: enter bullish at ``bull_enter`` and stay while >= ``bull_exit``;
    enter bearish at ``bear_enter`` and stay while <= ``bear_exit``."""

    bull_enter: float = 65.0
    bull_exit: float = 55.0
    bear_enter: float = 35.0
    bear_exit: float = 45.0


def signal_states(grades: np.ndarray, bands: SignalBands, initial: np.ndarray | None = None) -> np.ndarray:
    """+1 bullish / -1 bearish / 0 neutral per (time, token), with hysteresis.

    The loop runs over time steps; each step updates every token at once. A NaN grade
    keeps the previous state.
    """
    t, n = grades.shape
    state = np.zeros(n, dtype=np.int8) if initial is None else initial.astype(np.int8).copy()
    out = np.empty((t, n), dtype=np.int8)
    for i in range(t):
        g = grades[i]
        known = ~np.isnan(g)
        bull = ((state == 1) & (g >= bands.bull_exit)) | (g >= bands.bull_enter)
        bear = ~bull & (((state == -1) & (g <= bands.bear_exit)) | (g <= bands.bear_enter))
        new = np.where(bull, 1, np.where(bear, -1, 0)).astype(np.int8)
        state = np.where(known, new, state).astype(np.int8)
        out[i] = state
    return out


def signal_backtest(close: np.ndarray, states: np.ndarray) -> dict[str, np.ndarray]:
    """Per token: return of holding only while bullish (position from the previous bar's
    signal, so no look-ahead) against holding throughout, both as fractions."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.nan_to_num(np.diff(np.log(np.where(close > 0, close, np.nan)), axis=0))
    long = (states[:-1] == 1).astype(float)
    return {
        "signal_return": np.exp((r * long).sum(axis=0)) - 1.0,
        "hold_return": np.exp(r.sum(axis=0)) - 1.0,
        "bars_in_market": long.sum(axis=0),
    }
