"""Dead, thin tokens are not graded as buys, by the rules or by a model trained on a market
where standing still beat most tokens (the case that graded them ~96)."""

from __future__ import annotations

import numpy as np
import pytest

from ratings.datapoints import data_points_compute
from ratings.grading import TRADABILITY_CAP, forward_log_return
from ratings.services import TrainingData, grade_models_train, grades_compute, training_set
from tests.ratings.conftest import make_panel

DAYS = 36
ACTIVE, DEAD = 30, 10
HEALTHY = 0  # the active token with the best drift: traded, deep pool, rising


def falling_market() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Active tokens drift between -0.5%/h and +0.3%/h (most fall), with volume and deep
    pools; dead tokens never trade: flat carried-forward price, no volume, $3k pools."""
    rng = np.random.default_rng(5)
    hours = DAYS * 24
    drift = np.linspace(0.003, -0.005, ACTIVE)
    noise = rng.normal(0, 0.01, (hours, ACTIVE))
    active = 2.0 * np.exp(np.cumsum(drift + noise, axis=0))
    close = np.hstack([active, np.full((hours, DEAD), 0.5)])
    traded = np.hstack([np.ones((hours, ACTIVE)), np.zeros((hours, DEAD))])
    volume = traded * rng.uniform(2_000, 6_000, (hours, ACTIVE + DEAD))
    series = {
        "volume_usd": volume,
        "buy_volume_usd": volume * 0.5,
        "trades": traded * 8,
        "swaps": traded * 8,
        "unique_traders": traded * 5,
        "transfers": traded * 10,
        "liquidity_usd": np.hstack([np.full((hours, ACTIVE), 400_000.0), np.full((hours, DEAD), 3_000.0)]),
        "holders": np.full((hours, ACTIVE + DEAD), 300.0),
    }
    return close, series


@pytest.mark.django_db
def test_a_dead_thin_token_grades_below_an_actively_traded_healthy_one(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    settings.RATINGS_MODELS_DIR = tmp_path / "models"
    close, series = falling_market()
    panel = make_panel(close, **series)
    rows = np.arange(8 * 24, DAYS * 24, 3)
    data = TrainingData(panel, rows, data_points_compute(panel, rows))
    latest = {name: v[-1:] for name, v in data_points_compute(panel).items()}
    dead = np.arange(ACTIVE, ACTIVE + DEAD)

    # Standing still (0%) beat most tokens here, yet no untraded row is learnt from.
    for horizon, hours in (("trader", 24), ("investor", 168)):
        forward = forward_log_return(close, rows, hours)
        known = np.isfinite(forward)
        assert (forward[:, dead][known[:, dead]] == 0).all()
        assert np.median(forward[:, :ACTIVE][known[:, :ACTIVE]]) < 0
        assert training_set(data, horizon, hours).y.size == known[:, :ACTIVE].sum()

    by_rules = {h: grades_compute(chain_id=None, values=latest, horizon=h) for h in ("trader", "investor")}
    grade_models_train(chain_id=4242, data=data)
    by_model = {h: grades_compute(chain_id=4242, values=latest, horizon=h) for h in ("trader", "investor")}
    assert by_model["trader"].version.startswith("gbm-trader-")

    cap = settings.RATINGS_UNTRADABLE_GRADE_CAP
    for graded in (*by_rules.values(), *by_model.values()):
        grades = graded.grades[-1]
        assert (grades[dead] <= cap).all()
        assert grades[HEALTHY] > grades[dead].max()
        # The cap is shown as a contribution of its own, and the model's still add up.
        result = graded.latest
        cut = result.contributions[:, result.names.index(TRADABILITY_CAP)]
        assert (cut[dead] <= 0).all() and (cut[:ACTIVE] == 0).all()
    for graded in by_model.values():
        result = graded.latest
        assert result.base + result.contributions.sum(axis=1) == pytest.approx(result.grades)
