"""Grades from data points: the transparent rule-based v0 and the gradient-boosted models.

Both graders are pure functions of data-point matrices (no database), vectorised over tokens.

Rule-based (``rules-v0``): each rule maps one data point through
``tanh((x - center) / scale)`` into -1..1 (a negative ``scale`` means lower is better;
missing data scores 0), and the grade is ``50 + 50 * sum(weight * score)`` with weights
summing to 1, so a rule's contribution is exactly ``50 * weight * score`` grade points
around the neutral 50.

Model (``gbm-<horizon>-...``): LightGBM gradient-boosted trees predict the forward log
return of its horizon (24h for the Trader Grade, 7d for the Investor Grade); the grade is
the prediction's percentile among the model's own training predictions (linear between
its 101 stored quantiles), so 90 means "a better outlook than 90% of what the model saw in
training".

A model grade's contributions are exact and add up: LightGBM's TreeSHAP
(``predict(pred_contrib=True)``) splits each prediction into the model's expected
prediction plus one Shapley value per data point. The grade of the expected prediction is
the model's ``base`` grade (returns are skewed, so their mean, and this base, can sit some
points away from the median's 50), and each Shapley value is turned into grade points
by the same factor, ``(grade - base) / (prediction - expected prediction)``, so for every
token ``base + sum(contributions) == grade``: a data point's share of the grade's distance
from the base is its share of the prediction's distance from the expected prediction.

Artifacts trained before LightGBM (scikit-learn ``HistGradientBoostingRegressor``) still
load and grade as before; their contributions stay the older per-feature deltas (grade
minus the grade with that data point at its training median, for the most important data
points), which do not add up to the grade.

Both graders then pass the tradability gate (``tradable``, ``tradability_gate``): a token
with no volume over the grade's window or with thin pool liquidity is capped, and the cut
is shown as one more contribution.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import lightgbm
import numpy as np
from scipy.stats import spearmanr

from ratings.datapoints import HISTORICAL_NAMES, REGISTRY_BY_NAME

RULES_VERSION = "rules-v0"
TRADER_HORIZON_HOURS = 24
INVESTOR_HORIZON_HOURS = 7 * 24
LEGACY_CONTRIBUTION_FEATURES = 8  # data points a pre-LightGBM artifact explains by per-feature deltas
MODEL_ALGORITHM = "LightGBM gbdt, TreeSHAP contributions"
LEGACY_ALGORITHM = "sklearn HistGradientBoostingRegressor"


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
    """Grades (N,) 0-100 and contributions (N, F) in grade points for ``names`` (F,).

    ``base`` is the grade with no information ((N,) or a scalar): 50 for the rules, the
    grade of the expected prediction for a model. ``base + contributions.sum(axis=1)`` is
    the grade, except where a rule grade is clipped at 0 or 100 (and for legacy models).
    """

    grades: np.ndarray
    names: list[str]
    contributions: np.ndarray
    values: np.ndarray
    version: str
    base: np.ndarray | float = 50.0


# --- the tradability gate ------------------------------------------------------------------------

# Volume data point that shows a token was traded over each horizon's window.
TRADED_VOLUME = {"trader": "volume_24h_usd", "investor": "volume_7d_usd"}
TRADABILITY_CAP = "tradability_cap"  # the contribution that brings a gated grade down to the cap
TRADABILITY_CAP_LABEL = "grade capped: no trades over the horizon's window, or thin pool liquidity"


def tradable(values: dict[str, np.ndarray], horizon: str, *, min_liquidity_usd: float) -> np.ndarray:
    """True where a token could be bought and sold: some volume over the horizon's window
    (24h for the Trader Grade, 7d for the Investor Grade) and at least ``min_liquidity_usd``
    in its pools. Same shape as the data points.

    Without trades a price is not a market price: it is the last one carried forward, so
    every price data point reads "no movement" (0% returns, no volatility, no drawdown, RSI
    50), which looks like the calmest token on the market. And a thin pool's price moves by
    the buyer's own trade. Neither token is a buy whatever its data points say.
    """
    volume = np.nan_to_num(np.asarray(values[TRADED_VOLUME[horizon]], dtype=float))
    liquidity = np.nan_to_num(np.asarray(values["liquidity_usd"], dtype=float))
    return (volume > 0) & (liquidity >= min_liquidity_usd)


def tradability_gate(result: GradeResult, traded: np.ndarray, *, cap: float) -> GradeResult:
    """``result`` with grades of untradable tokens capped at ``cap``; the cut is one more
    contribution (``tradability_cap``, <= 0), so the contributions still add up."""
    capped = np.where(traded, result.grades, np.minimum(result.grades, cap))
    cut = (capped - result.grades)[:, np.newaxis]
    flag = np.where(traded, 0.0, 1.0)[:, np.newaxis]
    return GradeResult(
        capped,
        [*result.names, TRADABILITY_CAP],
        np.hstack([result.contributions, cut]),
        np.hstack([result.values, flag]),
        result.version,
        base=result.base,
    )


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
    """What ``joblib`` stores for one model version.

    ``estimator`` is a ``lightgbm.Booster`` (cut to its best iteration, so every load
    predicts with the same trees), or for artifacts trained before LightGBM a scikit-learn
    ``HistGradientBoostingRegressor``; both keep loading from the same joblib file.
    """

    version: str
    horizon: str
    features: list[str]
    estimator: Any
    prediction_quantiles: np.ndarray  # 101 quantiles of the training predictions
    baseline: np.ndarray  # per-feature training median (legacy per-feature deltas)
    importance: np.ndarray  # mean |grade contribution| per feature on training rows
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def algorithm(self) -> str:
        return MODEL_ALGORITHM if isinstance(self.estimator, lightgbm.Booster) else LEGACY_ALGORITHM

    def grades_from_predictions(self, predictions: np.ndarray) -> np.ndarray:
        """Percentile (0-100) of each prediction among the training predictions, linear
        between the stored quantiles; a value shared by several quantiles takes their mean
        level. Continuous, so a small change in the prediction is a small change in the grade
        (the exact contributions divide by such changes)."""
        q = self.prediction_quantiles
        levels = np.linspace(0.0, 100.0, len(q))
        values, which = np.unique(q, return_inverse=True)
        mean_level = np.bincount(which, weights=levels) / np.bincount(which)
        return np.interp(predictions, values, mean_level)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted forward log return per row of ``x`` (rows, F)."""
        if isinstance(self.estimator, lightgbm.Booster):
            return np.asarray(self.estimator.predict(x, num_threads=1), dtype=np.float64)
        return np.asarray(self.estimator.predict(x), dtype=np.float64)

    def grade(self, x: np.ndarray) -> np.ndarray:
        return self.grades_from_predictions(self.predict(x))

    def explain(self, x: np.ndarray) -> GradeResult:
        """Grades with every data point's contribution in grade points (see the module doc)."""
        if not isinstance(self.estimator, lightgbm.Booster):
            return self._explain_by_deltas(x)
        prediction = self.predict(x)
        grades = self.grades_from_predictions(prediction)
        # (N, F + 1): one Shapley value per data point, then the expected prediction.
        shap = np.asarray(self.estimator.predict(x, pred_contrib=True, num_threads=1), dtype=np.float64)
        expected = shap[:, -1]
        base = self.grades_from_predictions(expected)
        moved = prediction - expected
        # Grade points per unit of predicted log return between the expected and this prediction.
        # Where the prediction sits at the expected value the grade is the base: nothing to share.
        scale = np.divide(grades - base, moved, out=np.zeros_like(moved), where=moved != 0)
        contributions = shap[:, :-1] * scale[:, np.newaxis]
        return GradeResult(grades, list(self.features), contributions, x, self.version, base=base)

    def _explain_by_deltas(self, x: np.ndarray, top: int = LEGACY_CONTRIBUTION_FEATURES) -> GradeResult:
        """Legacy artifacts: the grade minus the grade with one data point at its training
        median, for the ``top`` most important data points (these do not add up)."""
        grades = self.grade(x)
        order = np.argsort(-self.importance)[:top]
        n = len(x)
        stacked = np.repeat(x[np.newaxis], len(order), axis=0)  # (K, N, F)
        for k, j in enumerate(order):
            stacked[k, :, j] = self.baseline[j]
        without = self.grade(stacked.reshape(-1, x.shape[1])).reshape(len(order), n)
        contributions = (grades[np.newaxis, :] - without).T  # (N, K)
        names = [self.features[j] for j in order]
        return GradeResult(grades, names, contributions, x[:, order], self.version, base=np.nan)


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
    x_train, y_train = x[train], y[train]
    estimator = _booster_fit(x_train, y_train, random_state=random_state)
    train_prediction = np.asarray(estimator.predict(x_train), dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a data point never known in the window
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
    sample = x_train[:: max(1, len(x_train) // 2000)]
    artifact.importance = np.mean(np.abs(artifact.explain(sample).contributions), axis=0)
    info = {
        "train_start": unique_times[0],
        "train_end": train_end,
        "holdout_start": holdout_start,
        "holdout_end": unique_times[-1],
        "train_rows": int(train.sum()),
        "holdout_rows": int(test.sum()),
        "train_metrics": _metrics(train_prediction, y[train]),
        "holdout_metrics": _metrics(artifact.predict(x[test]), y[test]) if test.any() else {"rows": 0.0},
    }
    return artifact, info


EARLY_STOPPING_MIN_ROWS = 2_000  # from this many rows, the last tenth of the window stops the boosting
BOOSTING_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "learning_rate": 0.05,
    "num_leaves": 15,
    # Depth 4 (at most 16 leaves): TreeSHAP costs leaves x depth^2 per tree and row, so shallow
    # trees keep exact contributions for every token cheap.
    "max_depth": 4,
    "min_data_in_leaf": 20,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_col_wise": True,
    "verbosity": -1,
    # One OpenMP thread: these models are small, and on a shared host OpenMP's spin-waiting
    # threads make a two-thread fit ten times slower; callers parallelise over tokens instead.
    "num_threads": 1,
}
BOOSTING_ROUNDS = 200


def _booster_fit(x: np.ndarray, y: np.ndarray, *, random_state: int) -> lightgbm.Booster:
    """Boosted trees on time-ordered rows.

    A missing value (NaN) is its own branch at every split, so "no data" is never read as a
    number. With enough rows, a first fit holds out the last tenth (the most recent rows)
    and stops adding trees once 10 more stop helping it (as the earlier scikit-learn model
    did above 10,000 rows); the model is then refit on every row with that many trees.
    Every tree costs time in the exact contributions, and on the simulated market the
    stopped trader models ranked the held-out week as well as 200 trees.
    """
    params = {**BOOSTING_PARAMS, "seed": random_state}
    rounds = BOOSTING_ROUNDS
    if len(y) > EARLY_STOPPING_MIN_ROWS:
        cut = int(len(y) * 0.9)
        train_set = lightgbm.Dataset(x[:cut], y[:cut], params=params)
        valid_set = lightgbm.Dataset(x[cut:], y[cut:], reference=train_set)
        stopped = lightgbm.train(
            params,
            train_set,
            num_boost_round=BOOSTING_ROUNDS,
            valid_sets=[valid_set],
            callbacks=[lightgbm.early_stopping(10, verbose=False)],
        )
        rounds = stopped.best_iteration if stopped.best_iteration > 0 else stopped.current_iteration()
    booster = lightgbm.train(params, lightgbm.Dataset(x, y, params=params), num_boost_round=rounds)
    # The saved model holds exactly the trees it was grown with, so every load predicts the same.
    return lightgbm.Booster(model_str=booster.model_to_string())


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
