"""Exit rules, write-once picks, the track record and the Moonshots tab, on stored rows."""

from __future__ import annotations

import statistics
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from market.models import Candle, Interval
from moonshots.models import Moonshot
from moonshots.selectors import moonshot_track_record
from moonshots.services import PICK_IMMUTABLE, moonshot_close, moonshots_exit_check
from tests.site.factories import MARKET_TIME, rating_make, token_make

pytestmark = pytest.mark.django_db


def pick_make(token, *, entry=1.0, hours_ago=1.0, **extra) -> Moonshot:
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


def _candles(token, closes_by_hour: dict[int, float]) -> None:
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


def test_moonshot_report_prints_the_track_record_recomputed_from_stored_picks():
    tokens = [token_make(i) for i in range(1, 4)]
    for token in tokens:
        rating_make(token, trader=60.0, investor=50.0)
    _candles(tokens[0], {12: 1.0, 8: 2.0, 0: 2.0})
    _candles(tokens[1], {12: 4.0, 8: 3.0, 0: 2.0})
    _candles(tokens[2], {12: 2.0, 8: 2.0, 0: 3.0})
    for token, entry, exit_price, hours_ago, replayed in [
        (tokens[0], 1.0, 1.8, 12, True),
        (tokens[1], 4.0, 3.0, 8, True),
        (tokens[2], 2.0, 3.0, 8, False),
    ]:
        pick = pick_make(token, entry=entry, hours_ago=hours_ago, replayed=replayed)
        moonshot_close(pick=pick, exited_at=MARKET_TIME, exit_price_usd=exit_price, exit_reason="max_holding")
    out = StringIO()

    call_command("moonshot_report", "--chain-id", "31337", stdout=out)

    # By hand from the stored picks: ROI +80%, -25%, +50%.
    stored = Moonshot.objects.filter(chain_id=31337, exited_at__isnull=False)
    rois = sorted((p.exit_price_usd / p.entry_price_usd - 1) * 100 for p in stored if p.exit_price_usd)
    assert rois == pytest.approx([-25.0, 50.0, 80.0])
    # Basket over 12h ago..now: +100%, -50%, +50%; over 8h ago..now: 0%, -33.3%, +50%.
    basket_12h, basket_8h = statistics.fmean([100.0, -50.0, 50.0]), statistics.fmean([0.0, -100 / 3, 50.0])
    baskets = [basket_12h, basket_8h, basket_8h]
    report = out.getvalue()
    assert "closed picks: 3 (0 open; 2 closed picks from a point-in-time replay of history)" in report
    assert "2025-03-01 00:00 to 2025-03-01 12:00 UTC" in report
    assert f"hit rate (ROI > 0): {2 / 3 * 100:.1f}% (2/3)" in report
    assert (
        f"ROI median {statistics.median(rois):+.2f}%, mean {statistics.fmean(rois):+.2f}%, "
        f"best {max(rois):+.2f}%, worst {min(rois):+.2f}%"
    ) in report
    assert (
        f"same holding periods: median {statistics.median(baskets):+.2f}%, mean {statistics.fmean(baskets):+.2f}%"
    ) in report
    assert f"held over the whole period: {basket_12h:+.2f}%" in report


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
