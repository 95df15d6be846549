"""Reorgs forced on a real node (snapshot, revert, different transactions)."""

from __future__ import annotations

import random

import pytest

from chain.contracts import contract_at
from market.models import Checkpoint, HolderBalance, Pool
from market.selectors import market_state_digest
from market.services import chain_index_reset, chain_index_to_head, rpc_client

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


def index(market) -> None:  # type: ignore[no-untyped-def]
    chain_index_to_head(chain_id=market.chain_id, rpc=rpc_client(market.url))


@pytest.mark.parametrize("new_chain_longer", [True, False], ids=["longer-fork", "shorter-fork"])
def test_reorg_rewinds_to_the_fork_and_state_equals_the_new_chain(registered_market, new_chain_longer) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    w3 = m.w3
    index(m)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        m.rng = random.Random(101)
        m.random_activity(12)
        index(m)
        old_head = w3.eth.block_number
        assert Checkpoint.objects.get(chain_id=m.chain_id).next_block == old_head + 1

        assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
        m.rng = random.Random(202)
        m.random_activity(18 if new_chain_longer else 4)
        assert (w3.eth.block_number > old_head) is new_chain_longer

        index(m)
        checkpoint = Checkpoint.objects.get(chain_id=m.chain_id)
        assert checkpoint.reorgs == 1
        assert checkpoint.next_block == w3.eth.block_number + 1
        after_reorg = market_state_digest(chain_id=m.chain_id)

        block = w3.eth.block_number
        for row in HolderBalance.objects.select_related("token"):
            erc20 = contract_at(w3, "openzeppelin:IERC20", row.token.address)
            assert row.balance == erc20.functions.balanceOf(row.address).call(block_identifier=block)
        for pool in Pool.objects.all():
            reserves = contract_at(w3, "v2-core:UniswapV2Pair", pool.address).functions.getReserves().call()
            assert (pool.reserve0, pool.reserve1) == tuple(reserves[:2])

        chain_index_reset(chain_id=m.chain_id)
        index(m)
        assert market_state_digest(chain_id=m.chain_id) == after_reorg
    finally:
        # Leave the module's chain as the next test expects it: the pre-test state.
        w3.provider.make_request("evm_revert", [snapshot])
