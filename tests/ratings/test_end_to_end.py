"""After indexing the mini market, every rated token has grades, a signal, contributions and history."""

from __future__ import annotations

import pytest

from market.models import Token
from market.services import chain_index_to_head, index_sources_sync, rpc_client
from ratings.models import DataPointValue, GradeHistory, SignalChange, TokenRating
from ratings.selectors import grade_history, ratings_list, signal_history, token_data_points
from ratings.services import ratings_compute

pytestmark = [pytest.mark.chain, pytest.mark.django_db(transaction=True)]


def test_every_rated_token_gets_grades_signal_contributions_and_history(registered_market, tmp_path, settings):
    settings.VAR_DIR = tmp_path  # no social feed: sentiment data points read as 0
    chain_id = registered_market.chain_id
    index_sources_sync(chain_id=chain_id)
    chain_index_to_head(chain_id=chain_id, rpc=rpc_client(registered_market.url))

    run = ratings_compute(chain_id=chain_id)

    rated = Token.objects.filter(chain_id=chain_id, quote_kind="")
    assert rated.count() == run.tokens >= 5
    for token in rated:
        rating = TokenRating.objects.get(token=token)
        for grade in (rating.trader_grade, rating.investor_grade, rating.overall_grade):
            assert 0 <= grade <= 100
        assert rating.signal in ("bullish", "bearish", "neutral")
        assert rating.signal_since is not None
        assert rating.model_version == "rules-v0"
        assert {"trader", "investor"} <= {c["grade"] for c in rating.top_contributions}
        assert all({"name", "label", "value", "contribution"} <= set(c) for c in rating.top_contributions)
        assert grade_history(token=token, interval="1h").exists()
        assert grade_history(token=token, interval="1d").exists()
        assert signal_history(token=token).exists()
        assert len(token_data_points(token=token)) >= 80
    assert not TokenRating.objects.filter(token__quote_kind__in=["usd", "native"]).exists()
    assert list(ratings_list(chain_id=chain_id, order_by="trader_grade"))[0].trader_grade == max(
        r.trader_grade for r in TokenRating.objects.all()
    )


def test_running_twice_changes_nothing(registered_market, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    chain_id = registered_market.chain_id
    index_sources_sync(chain_id=chain_id)
    chain_index_to_head(chain_id=chain_id, rpc=rpc_client(registered_market.url))
    ratings_compute(chain_id=chain_id)
    counts = (GradeHistory.objects.count(), SignalChange.objects.count(), DataPointValue.objects.count())
    grades = sorted(TokenRating.objects.values_list("token_id", "trader_grade", "investor_grade"))

    ratings_compute(chain_id=chain_id)

    assert (GradeHistory.objects.count(), SignalChange.objects.count(), DataPointValue.objects.count()) == counts
    assert sorted(TokenRating.objects.values_list("token_id", "trader_grade", "investor_grade")) == grades
