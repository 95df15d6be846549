"""Exit rules, write-once picks, the track record and the Moonshots tab, on stored rows."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from market.models import Candle, Interval
from moonshots.models import Moonshot
from moonshots.selectors import moonshot_track_record
from moonshots.services import PICK_IMMUTABLE, moonshot_close, moonshots_exit_check
from tests.site.factories import MARKET_TIME, rating_make, token_make

pytestmark = pytest.mark.django_db


def pick_make(token, *, entry=1.0, hours_ago=1.0, **extra) -> Moonshot:  # type: ignore[no-untyped-def]
    fields = {
        "token": token,
        "chain_id": token.chain_id,
        "entered_at": MARKET_TIME - timedelta(hours=hours_ago),
        "entry_price_usd": entry,
        "entry_market_cap_usd": 1e6,
        "entry_trader_grade": 70.0,
        "score": 50.0,
        "model_version": "moonshot-rules-v1",
        "model_parameters": {},
        "reasons": ["whales net bought $30,000"],
        "exit_grade_below": 40.0,
        "stop_loss_pct": 25.0,
        "take_profit_pct": 100.0,
        "max_holding_hours": 168.0,
    }
    fields.update(extra)
    return Moonshot.objects.create(**fields)


@pytest.mark.parametrize(
    ("price", "grade", "hours_ago", "reason"),
    [
        (0.7, 70.0, 1, "stop_loss"),
        (2.1, 70.0, 1, "take_profit"),
        (1.1, 30.0, 1, "grade_drop"),
        (1.1, 70.0, 200, "max_holding"),
    ],
)
def test_each_exit_rule_closes_the_pick_at_the_indexed_price(price, grade, hours_ago, reason):
    token = token_make(1, price=price)
    rating_make(token, trader=grade, investor=50.0)
    pick = pick_make(token, hours_ago=hours_ago)

    closed = moonshots_exit_check(chain_id=token.chain_id, now=MARKET_TIME)

    assert [p.pk for p in closed] == [pick.pk]
    pick.refresh_from_db()
    assert (pick.exit_reason, pick.exit_price_usd, pick.exited_at) == (reason, price, MARKET_TIME)


def test_a_pick_within_every_rule_stays_open():
    token = token_make(1, price=1.2)
    rating_make(token, trader=70.0, investor=50.0)
    pick_make(token)
    assert moonshots_exit_check(chain_id=token.chain_id, now=MARKET_TIME) == []


def test_a_closed_pick_is_never_changed_again():
    token = token_make(1, price=2.5)
    pick = pick_make(token)
    moonshot_close(pick=pick, exited_at=MARKET_TIME, exit_price_usd=2.5, exit_reason="take_profit")
    with pytest.raises(ValidationError, match=PICK_IMMUTABLE.format(pick_id=pick.pk)):
        moonshot_close(pick=pick, exited_at=MARKET_TIME, exit_price_usd=0.1, exit_reason="stop_loss")
    pick.refresh_from_db()
    assert pick.exit_price_usd == 2.5


def test_constraints_one_open_pick_per_token_and_exit_fields_together():
    token = token_make(1)
    pick_make(token)
    with pytest.raises(IntegrityError), transaction.atomic():
        pick_make(token)
    other = token_make(2)
    with pytest.raises(IntegrityError), transaction.atomic():
        pick_make(other, exited_at=MARKET_TIME)  # no exit price or reason
    with pytest.raises(IntegrityError), transaction.atomic():
        pick_make(other, exited_at=MARKET_TIME - timedelta(hours=5), exit_price_usd=1.0, exit_reason="stop_loss")


def _candles(token, closes_by_hour: dict[int, float]) -> None:  # type: ignore[no-untyped-def]
    for hours_ago, close in closes_by_hour.items():
        Candle.objects.create(
            token=token,
            interval=Interval.HOUR,
            bucket=MARKET_TIME - timedelta(hours=hours_ago),
            open=close,
            high=close,
            low=close,
            close=close,
            volume=1,
            volume_usd=close,
            trades=1,
        )


def test_track_record_equals_a_recomputation_from_stored_picks_and_candles():
    tokens = [token_make(i) for i in range(1, 4)]
    for token in tokens:
        rating_make(token, trader=60.0, investor=50.0)
    _candles(tokens[0], {10: 1.0, 5: 1.5, 0: 3.0})
    _candles(tokens[1], {10: 2.0, 5: 2.0, 0: 1.0})
    _candles(tokens[2], {10: 4.0, 5: 5.0, 0: 6.0})
    exits = [(tokens[0], 1.0, 3.0), (tokens[1], 2.0, 1.0), (tokens[2], 4.0, 5.0)]
    for token, entry, exit_price in exits:
        pick = pick_make(token, entry=entry, hours_ago=10)
        hours = 0 if token is not tokens[2] else 5
        moonshot_close(
            pick=pick,
            exited_at=MARKET_TIME - timedelta(hours=hours),
            exit_price_usd=exit_price,
            exit_reason="max_holding",
        )
    pick_make(tokens[0], entry=3.0, hours_ago=0)  # open: not in the track record

    record = moonshot_track_record(chain_id=31337)

    rois = [200.0, -50.0, 25.0]
    basket_full = statistics.fmean([200.0, -50.0, 50.0])  # 10h ago to now
    basket_half = statistics.fmean([50.0, 0.0, 25.0])  # 10h ago to 5h ago
    assert (record.picks, record.hits, record.open_picks) == (3, 2, 1)
    assert record.hit_rate_pct == pytest.approx(200 / 3)
    assert record.median_roi_pct == pytest.approx(statistics.median(rois))
    assert record.mean_roi_pct == pytest.approx(statistics.fmean(rois))
    assert (record.best_roi_pct, record.worst_roi_pct) == pytest.approx((200.0, -50.0))
    assert record.basket_mean_roi_pct == pytest.approx(statistics.fmean([basket_full, basket_full, basket_half]))


def test_moonshots_tab_lists_open_picks_and_the_past_toggle_shows_closed_ones(client):
    live, gone = token_make(1, price=1.5), token_make(2, price=0.5)
    rating_make(live, trader=70.0, investor=50.0)
    rating_make(gone, trader=70.0, investor=50.0)
    pick_make(live)
    moonshot_close(pick=pick_make(gone), exited_at=MARKET_TIME, exit_price_usd=0.5, exit_reason="stop_loss")

    page = client.get("/ratings/?tab=moonshots").content.decode()
    assert 'data-symbol="TK1"' in page and 'data-symbol="TK2"' not in page
    assert "+50.00%" in page and "whales net bought" in page
    assert f'href="/swap/?buy={live.address}"' in page
    assert 'data-testid="track-record"' in page

    past = client.get("/ratings/?tab=moonshots&past=1", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-symbol="TK2"' in past and 'data-symbol="TK1"' not in past
    assert "-50.00%" in past and "stop-loss hit" in past
    assert "<html" not in past  # the HTMX partial only
