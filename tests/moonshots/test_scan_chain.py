"""The scan on a real indexed local-chain market: a whale accumulates a token before a rally,
next to a honeypot and a token whose liquidity is pulled, both also bought by whales."""

from __future__ import annotations

import pytest
from web3 import Web3

from chain.contracts import deploy_contract, transact
from chain.deploy import create_pool_with_liquidity, deploy_erc20
from market.models import Swap, Token
from market.services import chain_index_to_head, index_sources_sync, rpc_client
from moonshots.models import Moonshot
from moonshots.selectors import moonshot_rows
from moonshots.services import market_now, moonshots_scan
from ratings.services import chain_risks_refresh, ratings_compute
from tests.fixtures.market import E18

pytestmark = [pytest.mark.chain, pytest.mark.django_db(transaction=True)]


def _index_and_grade(m) -> None:  # type: ignore[no-untyped-def]
    index_sources_sync(chain_id=m.chain_id)
    chain_index_to_head(chain_id=m.chain_id, rpc=rpc_client(m.url))
    ratings_compute(chain_id=m.chain_id)


def _last_swap_price(address: str) -> float:
    swap = Swap.objects.filter(base_token__address=address).order_by("-block_number", "-log_index").first()
    assert swap is not None and swap.price_usd
    return swap.price_usd


@pytest.fixture
def accumulation_market(registered_market, tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path  # no social feed
    m = registered_market
    w3, owner, dex = m.w3, m.deployer, m.dexes[0]
    pool = create_pool_with_liquidity
    accumulated = deploy_erc20(w3, name="Quiet Accumulation", symbol="QUIET", supply=1_000_000 * E18, sender=owner)
    pool(w3, dex=dex, token_a=m.weth, amount_a=30 * E18, token_b=accumulated, amount_b=100_000 * E18, provider=owner)
    # The rest of the supply spread over many holders, so the token is not flagged as concentrated.
    for i in range(20):
        m.send(accumulated, owner, Web3.to_checksum_address(f"0x{0x1000 + i:040x}"), 45_000 * E18)
    trap = deploy_contract(w3, "HoneypotToken", "Trap", "TRAP", 1_000_000 * E18, sender=owner)
    pair = pool(
        w3, dex=dex, token_a=m.weth, amount_a=30 * E18, token_b=trap.address, amount_b=100_000 * E18, provider=owner
    )
    transact(w3, trap.functions.setPair(pair, True), sender=owner)
    rug = deploy_erc20(w3, name="Rug", symbol="RUGG", supply=1_000_000 * E18, sender=owner)
    rug_pair = pool(w3, dex=dex, token_a=m.weth, amount_a=30 * E18, token_b=rug, amount_b=100_000 * E18, provider=owner)
    # Whales buy all three, an hour apart, for six hours: quiet accumulation, little price move each time.
    whales = m.traders[3:6]
    for hour in range(6):
        for token in (accumulated, trap.address, rug):
            m.buy(whales[hour % 3], token, 3 * E18)
        m.advance(3600)
    # The rug's liquidity is pulled: exiting it is no longer possible at any sane price.
    m.pull_liquidity(rug, rug_pair, dex)
    m.buy(m.traders[0], accumulated, E18 // 1000)  # a tiny trade: its price is the pool's spot
    m.advance(3600)
    _index_and_grade(m)
    chain_risks_refresh(chain_id=m.chain_id, rpc=rpc_client(m.url))
    return {"QUIET": accumulated, "TRAP": trap.address, "RUGG": rug}


def test_scan_picks_the_accumulated_token_before_its_rally_and_never_a_honeypot_or_rug(
    registered_market, accumulation_market, settings
):
    m, tokens = registered_market, accumulation_market
    entry_swap_price = _last_swap_price(tokens["QUIET"])

    run = moonshots_scan(chain_id=m.chain_id, rpc=rpc_client(m.url))

    picked = {p.token.address for p in run.picked}
    assert tokens["QUIET"] in picked
    assert tokens["TRAP"] not in picked and tokens["RUGG"] not in picked
    trap, rug = Token.objects.get(address=tokens["TRAP"]), Token.objects.get(address=tokens["RUGG"])
    assert "honeypot" in run.blocked[trap.id]
    assert "liquidity_pulled" in run.blocked[rug.id]
    pick = Moonshot.objects.get(token__address=tokens["QUIET"])
    assert pick.model_version == "moonshot-rules-v1" and pick.model_parameters["whale_accumulation"]["weight"] > 0
    assert any("whales net bought" in reason for reason in pick.reasons)
    assert pick.entry_market_cap_usd <= settings.MOONSHOT_MAX_MARKET_CAP_USD
    assert (pick.stop_loss_pct, pick.take_profit_pct) == (
        settings.MOONSHOT_STOP_LOSS_PCT,
        settings.MOONSHOT_TAKE_PROFIT_PCT,
    )

    # A second scan at the same market time: still one open pick per token.
    again = moonshots_scan(chain_id=m.chain_id)
    assert tokens["QUIET"] not in {p.token.address for p in again.picked}
    assert Moonshot.objects.filter(token__address=tokens["QUIET"]).count() == 1

    # The rally comes after the pick.
    rally_start = m.w3.eth.get_block("latest")["timestamp"]
    for trader in m.traders[:3]:
        m.buy(trader, tokens["QUIET"], 4 * E18)
    m.buy(m.traders[0], tokens["QUIET"], E18 // 1000)
    m.advance(3600)
    _index_and_grade(m)
    assert pick.entered_at.timestamp() <= rally_start

    # Live ROI from the latest indexed price equals the price change read off the indexed swaps.
    row = moonshot_rows(
        picks=[Moonshot.objects.select_related("token").get(pk=pick.pk)], now=market_now(chain_id=m.chain_id)
    )[0]
    by_hand = (_last_swap_price(tokens["QUIET"]) / entry_swap_price - 1) * 100
    assert row.roi_pct is not None and row.roi_pct > 20
    assert row.roi_pct == pytest.approx(by_hand, rel=0.01)
