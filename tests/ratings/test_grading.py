"""Rule grades, model training and versioning, and signal hysteresis."""

from __future__ import annotations

from datetime import UTC, datetime

import joblib
import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from ratings.grading import (
    INVESTOR_RULES,
    LEGACY_ALGORITHM,
    LEGACY_CONTRIBUTION_FEATURES,
    MODEL_ALGORITHM,
    RULES_VERSION,
    TRADER_RULES,
    ArtifactMismatch,
    ModelArtifact,
    SignalBands,
    TrainingSet,
    TrainingWindowTooShort,
    artifact_load,
    artifact_save,
    file_sha256,
    model_features,
    model_fit,
    rules_grade,
    signal_backtest,
    signal_states,
)
from ratings.models import GradeModel
from ratings.services import grade_model_register, grades_compute

BANDS = SignalBands(bull_enter=65, bull_exit=55, bear_enter=35, bear_exit=45)


def neutral_values(n: int) -> dict[str, np.ndarray]:
    return {name: np.full(n, np.nan) for name in model_features() + ["top10_share", "top1_share", "holder_gini"]}


def test_rule_weights_sum_to_one_and_missing_data_grades_fifty():
    for rules in (TRADER_RULES, INVESTOR_RULES):
        assert sum(rule.weight for rule in rules) == pytest.approx(1.0)
        result = rules_grade(neutral_values(3), rules)
        assert result.grades == pytest.approx([50.0, 50.0, 50.0])


def test_rule_contributions_add_up_to_the_grade():
    values = neutral_values(2)
    values["ret_24h"] = np.array([30.0, -30.0])
    values["buy_share_24h"] = np.array([0.9, 0.1])
    result = rules_grade(values, TRADER_RULES)
    assert result.grades[0] > 60 > 40 > result.grades[1]
    assert result.grades == pytest.approx(50 + result.contributions.sum(axis=1))
    assert result.version == RULES_VERSION


def test_signal_needs_to_cross_the_far_band_to_flip():
    grades = np.array([50, 66, 60, 56, 54, 60, 64, 66, 40, 34, 44, 46, 50], dtype=float)[:, None]
    states = signal_states(grades, BANDS)[:, 0].tolist()
    assert states == [0, 1, 1, 1, 0, 0, 0, 1, 0, -1, -1, 0, 0]


def test_signal_does_not_flap_around_one_level():
    noise = 60 + 4 * np.sin(np.arange(200))[:, None]  # wobbles 56..64 after one entry at 66
    grades = np.vstack([[[66.0]], noise])
    states = signal_states(grades, BANDS)
    assert (states[:, 0] == 1).all()


def test_backtest_is_flat_outside_bullish_bars():
    close = np.array([1.0, 2.0, 1.0, 3.0])[:, None]
    states = np.array([1, 0, 1, 1])[:, None]
    result = signal_backtest(close, states)
    assert result["signal_return"][0] == pytest.approx(5.0)  # 1 -> 2 held, 2 -> 1 flat, 1 -> 3 held: x6
    assert result["hold_return"][0] == pytest.approx(2.0)
    assert result["bars_in_market"][0] == 2


def synthetic_training(rows_per_time: int = 25, times: int = 40) -> TrainingSet:
    rng = np.random.default_rng(0)
    features = model_features()
    x = rng.normal(size=(rows_per_time * times, len(features)))
    y = 0.05 * x[:, features.index("ret_24h")] + rng.normal(0, 0.01, len(x))
    stamps = np.repeat(
        np.datetime64("2025-01-01T00:00:00") + np.arange(times) * np.timedelta64(3600, "s"), rows_per_time
    )
    return TrainingSet(x, y, stamps, features)


def test_model_learns_a_planted_signal_and_explains_it():
    artifact, info = model_fit(
        synthetic_training(), horizon="trader", horizon_bars=24, bar=np.timedelta64(3600, "s"), version="gbm-test"
    )
    assert info["holdout_metrics"]["spearman"] > 0.8
    assert info["train_end"] <= info["holdout_start"]
    names = artifact.features
    x = np.zeros((2, len(names)))
    x[0, names.index("ret_24h")], x[1, names.index("ret_24h")] = 2.0, -2.0
    explained = artifact.explain(x)
    assert explained.grades[0] > 80 > 20 > explained.grades[1]
    planted = explained.names.index("ret_24h")
    assert (np.argmax(np.abs(explained.contributions), axis=1) == planted).all()
    assert explained.contributions[0, planted] > 0 > explained.contributions[1, planted]
    # Exact attribution: the base grade plus every data point's contribution is the grade.
    assert explained.base + explained.contributions.sum(axis=1) == pytest.approx(explained.grades)
    assert 35 < explained.base[0] < 65


def test_contributions_add_up_to_every_grade():
    artifact, _ = model_fit(
        synthetic_training(), horizon="trader", horizon_bars=24, bar=np.timedelta64(3600, "s"), version="gbm-sum"
    )
    x = np.random.default_rng(3).normal(size=(300, len(artifact.features)))
    x[::7, 5] = np.nan  # missing data points are attributed too
    explained = artifact.explain(x)
    assert explained.grades == pytest.approx(artifact.grade(x))
    assert explained.base + explained.contributions.sum(axis=1) == pytest.approx(explained.grades, abs=1e-9)
    assert len(np.unique(explained.grades)) > 20  # not one flat grade


def test_a_saved_model_round_trips_with_the_same_grades_and_contributions(tmp_path):
    artifact, _ = model_fit(
        synthetic_training(), horizon="trader", horizon_bars=24, bar=np.timedelta64(3600, "s"), version="gbm-trip"
    )
    path = tmp_path / "models" / "gbm-trip.joblib"
    sha = artifact_save(artifact, path)
    loaded = artifact_load(path, sha256=sha)
    x = np.random.default_rng(4).normal(size=(200, len(artifact.features)))
    assert loaded.algorithm == artifact.algorithm == MODEL_ALGORITHM
    assert loaded.version == "gbm-trip" and loaded.features == artifact.features
    np.testing.assert_array_equal(loaded.predict(x), artifact.predict(x))
    np.testing.assert_array_equal(loaded.explain(x).contributions, artifact.explain(x).contributions)
    with pytest.raises(ArtifactMismatch):
        artifact_load(path, sha256="0" * 64)


def test_a_model_saved_before_lightgbm_still_loads_and_grades(tmp_path):
    """Artifacts from the scikit-learn model keep grading; they explain by per-feature deltas."""
    training = synthetic_training()
    estimator = HistGradientBoostingRegressor(max_iter=50, random_state=0).fit(training.x, training.y)
    legacy = ModelArtifact(
        version="gbm-legacy",
        horizon="trader",
        features=training.features,
        estimator=estimator,
        prediction_quantiles=np.quantile(estimator.predict(training.x), np.linspace(0, 1, 101)),
        baseline=np.zeros(len(training.features)),
        importance=np.arange(len(training.features), dtype=float)[::-1],
    )
    path = tmp_path / "gbm-legacy.joblib"
    joblib.dump(legacy, path)
    loaded = artifact_load(path, sha256=file_sha256(path))
    x = np.zeros((2, len(training.features)))
    x[0, training.features.index("ret_24h")], x[1, training.features.index("ret_24h")] = 2.0, -2.0
    assert loaded.algorithm == LEGACY_ALGORITHM
    assert loaded.grade(x)[0] > 80 > 20 > loaded.grade(x)[1]
    explained = loaded.explain(x)
    assert explained.contributions.shape == (2, LEGACY_CONTRIBUTION_FEATURES)
    assert explained.names == training.features[:LEGACY_CONTRIBUTION_FEATURES]


def test_a_data_point_with_no_values_in_the_window_does_not_stop_training():
    training = synthetic_training()
    training.x[:, training.features.index("ret_24h") - 1] = np.nan  # e.g. sentiment before any post
    artifact, info = model_fit(
        training, horizon="trader", horizon_bars=24, bar=np.timedelta64(3600, "s"), version="gbm-nan"
    )
    assert info["holdout_metrics"]["spearman"] > 0.8


def test_a_horizon_as_long_as_the_history_is_refused_with_the_reason():
    with pytest.raises(TrainingWindowTooShort, match="training window too short"):
        model_fit(
            synthetic_training(times=40),
            horizon="investor",
            horizon_bars=168,
            bar=np.timedelta64(3600, "s"),
            version="gbm-short",
        )


@pytest.mark.django_db
def test_registered_models_are_versioned_pinned_and_used(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    versions = []
    for i in range(2):
        artifact, info = model_fit(
            synthetic_training(), horizon="trader", horizon_bars=24, bar=np.timedelta64(3600, "s"), version=f"gbm-v{i}"
        )
        path = tmp_path / "models" / f"gbm-v{i}.joblib"
        sha = artifact_save(artifact, path)
        model = grade_model_register(chain_id=7, horizon="trader", artifact=artifact, info=info, path=path, sha256=sha)
        versions.append(model.version)
        assert model.artifact_sha256 == file_sha256(path)
        assert model.features == model_features()
        assert model.holdout_start >= model.train_end
    assert list(GradeModel.objects.filter(chain_id=7, active=True).values_list("version", flat=True)) == ["gbm-v1"]
    assert GradeModel.objects.filter(chain_id=7).count() == 2

    values = {name: np.zeros((1, 3)) for name in neutral_values(1)}
    assert grades_compute(chain_id=7, values=values, horizon="trader").version == "gbm-v1"
    assert grades_compute(chain_id=7, values=values, horizon="investor").version == RULES_VERSION


@pytest.mark.django_db
def test_a_tampered_artifact_falls_back_to_the_rules(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    artifact, info = model_fit(
        synthetic_training(), horizon="trader", horizon_bars=24, bar=np.timedelta64(3600, "s"), version="gbm-tampered"
    )
    path = tmp_path / "models" / "gbm-tampered.joblib"
    sha = artifact_save(artifact, path)
    grade_model_register(chain_id=8, horizon="trader", artifact=artifact, info=info, path=path, sha256=sha)
    path.write_bytes(path.read_bytes() + b"x")
    values = {name: np.zeros((1, 2)) for name in neutral_values(1)}
    assert grades_compute(chain_id=8, values=values, horizon="trader").version == RULES_VERSION
    assert datetime.now(tz=UTC)  # registry row untouched
