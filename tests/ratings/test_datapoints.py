"""Each data point family on hand-made series with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ratings.datapoints import FAMILIES, REGISTRY, REGISTRY_BY_NAME, data_points_compute
from ratings.market_data import panel_to_daily
from tests.ratings.conftest import make_panel

HOURS = 40 * 24


def latest(panel, name):  # type: ignore[no-untyped-def]
    return data_points_compute(panel)[name][-1]


def test_registry_documents_at_least_80_unique_data_points_in_every_family():
    assert len(REGISTRY) >= 80
    assert len(REGISTRY_BY_NAME) == len(REGISTRY)
    assert {point.family for point in REGISTRY} == set(FAMILIES)
    for point in REGISTRY:
        assert point.meaning and point.window and point.unit


def test_pipeline_returns_exactly_the_registry_for_every_token():
    panel = make_panel(np.linspace(1, 2, HOURS)[:, None] * np.ones((1, 3)))
    values = data_points_compute(panel, [HOURS - 2, HOURS - 1])
    assert list(values) == list(REGISTRY_BY_NAME)
    assert all(v.shape == (2, 3) for v in values.values())


def test_momentum_returns_and_moving_averages_of_a_geometric_series():
    close = 1.01 ** np.arange(HOURS)  # +1% every hour
    values = data_points_compute(make_panel(close))
    assert values["ret_1h"][-1, 0] == pytest.approx(1.0)
    assert values["ret_24h"][-1, 0] == pytest.approx((1.01**24 - 1) * 100)
    assert values["roc_12"][-1, 0] == pytest.approx((1.01**12 - 1) * 100)
    assert values["rsi_14"][-1, 0] == pytest.approx(100.0)  # only gains
    assert values["up_bar_share_24h"][-1, 0] == pytest.approx(1.0)
    assert values["macd"][-1, 0] > 0 and values["ma_gap_7d"][-1, 0] > 0
    assert values["golden_cross_7d_30d"][-1, 0] == 1.0
    assert values["trend_state"][-1, 0] == 1.0
    assert values["price_vs_high_30d"][-1, 0] == pytest.approx(0.0)
    assert values["adx_14"][-1, 0] > 50  # one-way trend


def test_windows_reaching_before_the_first_trade_are_missing():
    close = np.full(HOURS, np.nan)
    close[-30:] = 5.0
    values = data_points_compute(make_panel(close))
    assert values["ret_24h"][-1, 0] == pytest.approx(0.0)
    assert np.isnan(values["ret_7d"][-1, 0])
    assert values["age_days"][-1, 0] == pytest.approx(30 / 24)


def test_volatility_drawdown_and_range_of_a_known_path():
    close = np.ones(HOURS)
    close[-48:-24] = 2.0  # doubled, then fell back to 1: a 50% drawdown within the week
    values = data_points_compute(make_panel(close))
    assert values["max_drawdown_7d"][-1, 0] == pytest.approx(50.0)
    flat = data_points_compute(make_panel(np.ones(HOURS)))
    assert flat["volatility_7d"][-1, 0] == pytest.approx(0.0)
    assert flat["max_drawdown_30d"][-1, 0] == pytest.approx(0.0)
    alternating = np.exp(np.where(np.arange(HOURS) % 2, 0.01, 0.0))
    vol = data_points_compute(make_panel(alternating))["volatility_24h"][-1, 0]
    assert vol == pytest.approx(0.01 * np.sqrt(365 * 24) * 100, rel=1e-6)  # std of +-1% steps


def test_volume_sums_shares_and_spike():
    volume = np.full(HOURS, 100.0)
    volume[-1] = 1_000.0
    panel = make_panel(
        np.ones(HOURS), volume_usd=volume, buy_volume_usd=volume * 0.75, liquidity_usd=np.full(HOURS, 4_600.0)
    )
    values = data_points_compute(panel)
    assert values["volume_24h_usd"][-1, 0] == pytest.approx(23 * 100 + 1_000)
    assert values["volume_7d_usd"][-1, 0] == pytest.approx(167 * 100 + 1_000)
    assert values["buy_share_24h"][-1, 0] == pytest.approx(0.75)
    assert values["volume_to_liquidity_24h"][-1, 0] == pytest.approx(3_300 / 4_600)
    assert values["volume_spike_1h"][-1, 0] == pytest.approx(1_000 / ((167 * 100 + 1_000) / 168))
    assert values["volume_zscore_30d"][-1, 0] > 3


def test_price_impact_matches_a_constant_product_pool():
    depth = 50_000.0  # USD on the quote side, so liquidity is twice that
    panel = make_panel(np.ones(HOURS), liquidity_usd=np.full(HOURS, 2 * depth))
    values = data_points_compute(panel)
    # Direct V2 arithmetic: reserves (x quote, y token), pay 10k with a 0.3% fee.
    x, y, pay = depth, depth / 1.0, 10_000.0
    out = y * pay * 0.997 / (x + pay * 0.997)
    assert values["price_impact_10k"][-1, 0] == pytest.approx((pay / out / (x / y) - 1) * 100)
    assert values["price_impact_1k"][-1, 0] < values["price_impact_10k"][-1, 0]
    assert values["depth_usd"][-1, 0] == pytest.approx(depth)


def test_liquidity_drawdown_sees_a_pulled_pool():
    liquidity = np.full(HOURS, 100_000.0)
    liquidity[-5:] = 10_000.0
    values = data_points_compute(make_panel(np.ones(HOURS), liquidity_usd=liquidity))
    assert values["liquidity_drawdown_7d"][-1, 0] == pytest.approx(90.0)
    assert values["liquidity_change_24h"][-1, 0] == pytest.approx(-90.0)


def test_holder_growth_and_new_holders():
    holders = np.concatenate([np.full(HOURS - 24, 100.0), np.full(24, 150.0)])
    new = np.zeros(HOURS)
    new[-24] = 50
    values = data_points_compute(make_panel(np.ones(HOURS), holders=holders, new_holders=new))
    assert values["holder_count"][-1, 0] == 150
    assert values["holder_growth_7d"][-1, 0] == pytest.approx(50.0)
    assert values["new_holders_24h"][-1, 0] == 50
    assert values["top10_share"][-1, 0] == pytest.approx(0.4)


def test_whale_net_flow_and_accumulation_streak():
    buys = np.zeros(HOURS)
    buys[-24 * 3 :: 24] = 50_000.0  # one whale buy in each of the last three days
    values = data_points_compute(
        make_panel(np.ones(HOURS), whale_buy_usd=buys, whale_buys=(buys > 0), liquidity_usd=np.full(HOURS, 1e6))
    )
    assert values["whale_net_flow_7d_usd"][-1, 0] == pytest.approx(150_000.0)
    assert values["whale_buys_7d"][-1, 0] == 3
    assert values["whale_accumulation_streak"][-1, 0] == 3
    assert values["whale_net_flow_to_liquidity_7d"][-1, 0] == pytest.approx(0.15)


@pytest.mark.parametrize("lead_hours", [0, 7, 20])
def test_a_young_markets_flows_do_not_depend_on_where_its_grid_starts(lead_hours):
    """A market 8 hours old: its grid starts at UTC midnight, 0 to 20 hours before the first
    trade. Its 24h volume, whale flow and liquidity drawdown are the same either way (they
    were blank when the grid began less than a day before the last row)."""
    life = 8
    hours = lead_hours + life
    close = np.full(hours, np.nan)
    close[lead_hours:] = 1.0
    volume, whale = np.zeros(hours), np.zeros(hours)
    volume[lead_hours:] = 1_000.0
    whale[lead_hours + 1 : lead_hours + 6] = 20_000.0
    liquidity = np.zeros(hours)
    liquidity[lead_hours:] = 100_000.0
    liquidity[-2:] = 10_000.0  # pulled two hours ago
    values = data_points_compute(
        make_panel(close, volume_usd=volume, whale_buy_usd=whale, whale_buys=whale > 0, liquidity_usd=liquidity)
    )
    assert values["volume_24h_usd"][-1, 0] == pytest.approx(8_000.0)
    assert values["whale_net_flow_24h_usd"][-1, 0] == pytest.approx(100_000.0)
    assert values["whale_buys_24h"][-1, 0] == 5
    assert values["whale_accumulation_streak"][-1, 0] == 1
    assert values["liquidity_drawdown_7d"][-1, 0] == pytest.approx(90.0)
    assert np.isnan(values["ret_24h"][-1, 0])  # a price window still needs the history


def test_activity_counts_and_week_over_week_change():
    transfers = np.concatenate([np.zeros(HOURS - 336), np.full(168, 1.0), np.full(168, 2.0)])
    values = data_points_compute(make_panel(np.ones(HOURS), transfers=transfers, unique_traders=transfers))
    assert values["transfers_24h"][-1, 0] == 48
    assert values["transfers_7d"][-1, 0] == 336
    assert values["transfers_change_7d"][-1, 0] == pytest.approx(100.0)


def test_structure_support_resistance_and_market_correlation():
    base = 1.001 ** np.arange(HOURS) * (1 + 0.01 * np.sin(np.arange(HOURS)))
    close = np.stack([base, base, 2 - base / base.max()], axis=1)
    values = data_points_compute(make_panel(close))
    assert values["market_correlation_7d"][-1, 0] == pytest.approx(values["market_correlation_7d"][-1, 1])
    assert values["market_correlation_7d"][-1, 0] > 0.5
    assert values["support_distance_7d"][-1, 0] >= 0
    assert values["resistance_distance_7d"][-1, 0] >= 0


def test_sentiment_means_and_mentions():
    mentions = np.zeros(HOURS)
    mentions[-3:] = 1
    score = mentions * np.array([0.0] * (HOURS - 3) + [0.5, -0.1, 0.8])
    values = data_points_compute(
        make_panel(np.ones(HOURS), mentions=mentions, sentiment_sum=score, positive_mentions=(score > 0.05))
    )
    assert values["mentions_24h"][-1, 0] == 3
    assert values["sentiment_24h"][-1, 0] == pytest.approx(0.4)
    assert values["positive_share_24h"][-1, 0] == pytest.approx(2 / 3)


def test_vectorised_values_equal_token_by_token_values():
    rng = np.random.default_rng(3)
    close = np.exp(np.cumsum(rng.normal(0, 0.02, (HOURS, 4)), axis=0))
    panel = make_panel(close, volume_usd=rng.gamma(1, 100, (HOURS, 4)), liquidity_usd=np.full((HOURS, 4), 1e5))
    together = data_points_compute(panel, [HOURS - 1])
    for i in range(4):
        alone = data_points_compute(panel.take([i]), [HOURS - 1])
        for name, value in alone.items():
            if name.startswith("market_") or name == "relative_strength_7d":
                continue  # the market is the cross-section, different for one token alone
            np.testing.assert_allclose(value[0, 0], together[name][0, i], rtol=1e-9, err_msg=name)


def test_many_rows_match_single_rows():
    rng = np.random.default_rng(5)
    close = np.exp(np.cumsum(rng.normal(0, 0.02, (HOURS, 3)), axis=0))
    panel = make_panel(close, volume_usd=rng.gamma(1, 100, (HOURS, 3)))
    many = data_points_compute(panel, np.arange(HOURS - 60, HOURS))  # one pass over the segment
    one = data_points_compute(panel, [HOURS - 1])  # slices per row
    for name in one:
        np.testing.assert_allclose(one[name][0], many[name][-1], rtol=1e-5, atol=1e-6, err_msg=name)


def test_daily_panel_uses_day_bars_and_blanks_sub_day_windows():
    close = 1.01 ** np.arange(HOURS)
    daily = panel_to_daily(make_panel(close))
    assert len(daily.times) == HOURS // 24
    values = data_points_compute(daily)
    assert np.isnan(values["ret_1h"][-1, 0])
    assert values["ret_24h"][-1, 0] == pytest.approx((1.01**24 - 1) * 100)


def test_a_token_gets_the_same_data_points_alone_as_among_many():
    """Wide panels step EMAs down the rows, narrow ones use lfilter: the values agree."""
    rng = np.random.default_rng(9)
    close = np.exp(np.cumsum(rng.normal(0, 0.02, (HOURS, 70)), axis=0))
    panel = make_panel(close, volume_usd=rng.uniform(100, 1_000, (HOURS, 70)))
    together = data_points_compute(panel, [HOURS - 30, HOURS - 1])
    alone = data_points_compute(panel.take([3]), [HOURS - 30, HOURS - 1])
    market_relative = {"market_correlation_7d", "market_beta_7d", "relative_strength_7d"}
    for name in REGISTRY_BY_NAME.keys() - market_relative:
        np.testing.assert_allclose(alone[name][:, 0], together[name][:, 3], rtol=1e-9, atol=1e-12, err_msg=name)
