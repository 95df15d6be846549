"""The Moonshots tab in a real browser: open picks with live ROI, the "Past moonshots" toggle
(HTMX) with ROI at exit and holding time, and Buy opening the swap widget for that token."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from market.models import Token
from moonshots.models import Moonshot
from moonshots.services import moonshot_close
from tests.site.factories import MARKET_TIME, rating_make, token_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pick(token: Token, *, entry: float, hours_ago: float) -> Moonshot:
    return Moonshot.objects.create(
        token=token,
        chain_id=token.chain_id,
        entered_at=MARKET_TIME - timedelta(hours=hours_ago),
        entry_price_usd=entry,
        entry_market_cap_usd=1e6,
        entry_trader_grade=70.0,
        score=62.5,
        model_version="moonshot-rules-v1",
        model_parameters={},
        reasons=["whales net bought $30,000 (4.0% of liquidity), 2 day(s) in a row (+30.0 points)"],
        exit_grade_below=40.0,
        stop_loss_pct=25.0,
        take_profit_pct=100.0,
        max_holding_hours=168.0,
    )


@pytest.fixture
def picks() -> dict[str, Token]:
    rising, sinking, gone = token_make(1, price=1.5), token_make(2, price=3.0), token_make(3, price=0.5)
    for token in (rising, sinking, gone):
        rating_make(token, trader=65.0, investor=50.0)
    _pick(rising, entry=1.0, hours_ago=6)  # live ROI +50%
    _pick(sinking, entry=4.0, hours_ago=3)  # live ROI -25%
    closed = _pick(gone, entry=1.0, hours_ago=10)
    moonshot_close(pick=closed, exited_at=MARKET_TIME - timedelta(hours=5), exit_price_usd=0.5, exit_reason="stop_loss")
    return {"rising": rising, "sinking": sinking, "gone": gone}


def test_moonshots_tab_lists_picks_past_toggle_shows_closed_ones_and_buy_opens_the_token(page, picks) -> None:
    from playwright.sync_api import expect

    page.goto("/ratings/?tab=moonshots")
    table = page.locator('[data-testid="moonshots-table"]')
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator('tr[data-symbol="TK1"] [data-col="roi"]')).to_have_text("+50.00%")
    expect(table.locator('tr[data-symbol="TK1"] [data-col="held"]')).to_have_text("6.0")
    expect(table.locator('tr[data-symbol="TK2"] [data-col="roi"]')).to_have_text("-25.00%")
    expect(table.locator('tr[data-symbol="TK3"]')).to_have_count(0)
    expect(page.locator('[data-testid="track-record"] [data-stat="picks"]')).to_contain_text("1 (2 open)")

    page.click('[data-testid="past-toggle"]')
    expect(page).to_have_url(re.compile(r"tab=moonshots&past=1"))
    past = page.locator('[data-testid="moonshots-table"]')
    expect(past.locator("tbody tr")).to_have_count(1)
    expect(past.locator('tr[data-symbol="TK3"] [data-col="roi"]')).to_have_text("-50.00%")
    expect(past.locator('tr[data-symbol="TK3"] [data-col="held"]')).to_have_text("5.0")
    expect(past.locator('tr[data-symbol="TK3"]')).to_contain_text("stop-loss hit")
    expect(past.locator('a[data-testid="buy"]')).to_have_count(0)

    page.click("text=Active moonshots")
    expect(page.locator('[data-testid="moonshots-table"] tr[data-symbol="TK2"]')).to_be_visible()
    sinking = picks["sinking"].address
    page.click(f'a[data-testid="buy"][href*="{sinking}"]')
    page.wait_for_url(f"**/swap/?buy={sinking}")
    expect(page.locator("[data-buy-symbol]")).to_have_text("TK2")
