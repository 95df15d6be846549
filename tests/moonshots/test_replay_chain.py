"""The point-in-time replay on a real indexed local-chain market.

A quiet day, then a honeypot and a token whose liquidity is pulled, then whales accumulate a
token (and buy the other two) for six hours; only later does it rally. The replay must pick
the accumulated token during its accumulation, at that hour's indexed price, never the
honeypot or the pulled token; and the record it builds hour by hour while the market happens
must come out the same when the whole history is replayed afterwards: a step never reads data
after its own hour.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from web3 import Web3

from chain.contracts import deploy_contract, transact
from chain.deploy import create_pool_with_liquidity, deploy_erc20
from market.models import Swap, Token
from market.services import chain_index_to_head, index_sources_sync, rpc_client
from moonshots.models import Moonshot, MoonshotScan
from moonshots.services import moonshots_replay, moonshots_scan, replay_cursor
from ratings.services import chain_risks_refresh
from tests.fixtures.market import E18

pytestmark = [pytest.mark.chain, pytest.mark.django_db(transaction=True)]

HOUR = 3600


def _index(m) -> None:
    index_sources_sync(chain_id=m.chain_id)
    chain_index_to_head(chain_id=m.chain_id, rpc=rpc_client(m.url))


def _block_time(m) -> datetime:
    return datetime.fromtimestamp(m.w3.eth.get_block("latest")["timestamp"], tz=UTC)


def _record(picks) -> list[tuple]:
    """Each pick as the record states it: entry, score, reasons and exit."""
    return [
        (
            p.token_id,
            p.entered_at,
            pytest.approx(p.entry_price_usd, rel=1e-9),
            pytest.approx(p.score, abs=1e-3),
            pytest.approx(p.entry_trader_grade, abs=1e-6),
            p.reasons,
            p.exited_at,
            p.exit_reason,
            None if p.exit_price_usd is None else pytest.approx(p.exit_price_usd, rel=1e-9),
        )
        for p in picks
    ]


@pytest.fixture
def history(registered_market, tmp_path, settings):
    """A quiet day, a honeypot and a token whose liquidity is pulled, indexed and risk-checked."""
    settings.VAR_DIR = tmp_path  # no social feed
    m = registered_market
    w3, owner, dex = m.w3, m.deployer, m.dexes[0]
    pool = create_pool_with_liquidity
    quiet = deploy_erc20(w3, name="Quiet Accumulation", symbol="QUIET", supply=1_000_000 * E18, sender=owner)
    pool(w3, dex=dex, token_a=m.weth, amount_a=30 * E18, token_b=quiet, amount_b=100_000 * E18, provider=owner)
    for i in range(20):  # the supply spread over many holders, so it is not flagged as concentrated
        m.send(quiet, owner, Web3.to_checksum_address(f"0x{0x2000 + i:040x}"), 45_000 * E18)
    trap = deploy_contract(w3, "HoneypotToken", "Trap", "TRAP", 1_000_000 * E18, sender=owner)
    pair = pool(
        w3, dex=dex, token_a=m.weth, amount_a=30 * E18, token_b=trap.address, amount_b=100_000 * E18, provider=owner
    )
    transact(w3, trap.functions.setPair(pair, True), sender=owner)
    rug = deploy_erc20(w3, name="Rug", symbol="RUGG", supply=1_000_000 * E18, sender=owner)
    rug_pair = pool(w3, dex=dex, token_a=m.weth, amount_a=30 * E18, token_b=rug, amount_b=100_000 * E18, provider=owner)
    m.buy(m.traders[0], rug, E18 // 10)
    m.advance(26 * HOUR)  # a quiet day: the replay's first step needs a day of history
    # The rug's liquidity is pulled before the whales come: exiting it is no longer possible.
    m.pull_liquidity(rug, rug_pair, dex)
    m.advance(HOUR)
    _index(m)
    chain_risks_refresh(chain_id=m.chain_id, rpc=rpc_client(m.url))  # the honeypot's sell simulation
    return {"QUIET": quiet, "TRAP": trap.address, "RUGG": rug}


def _hour_passes(m) -> None:
    """An hour of market time passes; the indexer catches up and the hourly replay runs."""
    m.advance(HOUR)
    _index(m)
    moonshots_replay(chain_id=m.chain_id)


def test_replay_picks_the_accumulated_token_point_in_time_and_never_a_honeypot_or_pulled_token(
    registered_market, history
):
    """The market is indexed and replayed hour by hour as it happens (nothing later exists yet),
    then the whole history is replayed again from an empty record: the two records must match,
    so no step read anything after its own hour."""
    m = registered_market
    quiet, trap, rug = (Token.objects.get(address=history[s]) for s in ("QUIET", "TRAP", "RUGG"))
    whales = m.traders[3:6]
    moonshots_replay(chain_id=m.chain_id)
    accumulation_start = _block_time(m)
    for hour in range(6):  # quiet accumulation: whales buy all three, an hour apart
        for token in (history["QUIET"], history["TRAP"], history["RUGG"]):
            m.buy(whales[hour % 3], token, 3 * E18)
        m.buy(m.traders[0], history["QUIET"], E18 // 1000)
        _hour_passes(m)
    rally_start = _block_time(m)
    for _ in range(3):  # then the rally
        for trader in m.traders[:3]:
            m.buy(trader, history["QUIET"], 4 * E18)
        _hour_passes(m)
    m.buy(m.traders[0], history["QUIET"], E18 // 1000)
    _hour_passes(m)
    assert moonshots_replay(chain_id=m.chain_id).steps == 0  # nothing left: each hour is judged once

    as_it_happened = list(Moonshot.objects.filter(chain_id=m.chain_id).order_by("entered_at", "id"))
    assert all(p.replayed for p in as_it_happened)
    picked = {p.token_id for p in as_it_happened}
    assert quiet.id in picked
    assert trap.id not in picked and rug.id not in picked
    pick = next(p for p in as_it_happened if p.token_id == quiet.id)
    # Picked while the whales accumulate (not on the quiet day before) and before the rally;
    # the buying then carries it to its take-profit at a later hour's price.
    assert accumulation_start < pick.entered_at <= rally_start
    assert any("whales net bought" in reason for reason in pick.reasons)
    assert pick.exit_reason == "take_profit" and pick.exited_at is not None and pick.exited_at > pick.entered_at
    assert pick.exit_price_usd is not None and pick.exit_price_usd >= 2 * pick.entry_price_usd
    # Each entry and exit is that hour's indexed price: the last swap before the hour's end.
    for p in as_it_happened:
        for at, price in ((p.entered_at, p.entry_price_usd), (p.exited_at, p.exit_price_usd)):
            if at is None:
                continue
            last_swap = (
                Swap.objects.filter(base_token_id=p.token_id, timestamp__lt=at)
                .order_by("-block_number", "-log_index")
                .first()
            )
            assert last_swap is not None and price == pytest.approx(last_swap.price_usd, rel=1e-9)
    steps = MoonshotScan.objects.filter(chain_id=m.chain_id, replayed=True)
    step_count = steps.count()
    assert step_count == steps.values("market_time").distinct().count()  # no hour judged twice

    Moonshot.objects.filter(chain_id=m.chain_id).delete()
    MoonshotScan.objects.filter(chain_id=m.chain_id).delete()
    in_hindsight = moonshots_replay(chain_id=m.chain_id)

    assert in_hindsight.steps == step_count
    replayed = list(Moonshot.objects.filter(chain_id=m.chain_id).order_by("entered_at", "id"))
    assert _record(replayed) == _record(as_it_happened)


def test_replay_never_steps_into_hours_a_live_scan_already_judged(registered_market, history):
    m = registered_market
    live = moonshots_scan(chain_id=m.chain_id)

    replay = moonshots_replay(chain_id=m.chain_id)

    assert replay_cursor(chain_id=m.chain_id) == live.market_time
    assert replay.steps == 0 and not replay.picked
    assert not Moonshot.objects.filter(chain_id=m.chain_id, entered_at__lt=live.market_time).exists()
