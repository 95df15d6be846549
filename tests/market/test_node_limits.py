"""The indexer against a node with a provider's limits: ``eth_getLogs`` block ranges, batch sizes.

The chain is the real mini market; ``LimitedNode`` forwards to it and refuses, with the error
such a node sends, a log request over more blocks or a batch of more requests than its limits.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from chain.deploy import create_pool_with_liquidity, deploy_erc20
from market import decode as d
from market.indexer import ChainIndexer
from market.models import HolderBalance, Pool, Token, Transfer
from market.rpc import RpcClient
from market.selectors import market_state_digest
from market.services import chain_index_reset, chain_index_to_head, rpc_client
from tests.fixtures.limited_node import LimitedNode
from tests.fixtures.market import E18

pytestmark = [pytest.mark.chain, pytest.mark.django_db]
CAP = 8  # blocks per eth_getLogs; the mini market has a few hundred


def _index_directly_then_through_limits(  # type: ignore[no-untyped-def]
    market, settings, **limits: int
) -> tuple[dict[str, Any], dict[str, Any], LimitedNode, RpcClient]:
    """The market indexed from its node in one batch (far wider than any limit), then again
    from scratch through a ``LimitedNode``: both states' digests, the node and its client."""
    settings.INDEX_SPAN_INITIAL = settings.INDEX_SPAN_MAX = 100_000
    chain_index_to_head(chain_id=market.chain_id, rpc=rpc_client(market.url))
    direct = market_state_digest(chain_id=market.chain_id)
    chain_index_reset(chain_id=market.chain_id)
    with LimitedNode(market.url, **limits) as node:
        client = rpc_client(node.url)
        chain_index_to_head(chain_id=market.chain_id, rpc=client)
    return direct, market_state_digest(chain_id=market.chain_id), node, client


def test_a_capped_node_is_read_in_ranges_it_takes_and_gives_the_same_state(registered_market, settings) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    uncapped, capped, node, client = _index_directly_then_through_limits(m, settings, max_blocks=CAP)
    assert capped == uncapped
    assert node.refused, "the node never refused: the test did not exercise the cap"
    assert max(end - start + 1 for start, end in node.answered) <= CAP
    # The cap is learned from the first refusals (a few halvings), not met again on every request.
    head = m.w3.eth.block_number
    assert node.refused <= client.parallel + math.ceil(math.log2(head))
    assert len(node.answered) >= head // CAP


def test_a_pool_found_while_following_reads_its_tokens_history_in_capped_ranges(registered_market, settings) -> None:  # type: ignore[no-untyped-def]
    """A pool created after the chain was indexed: its new token's transfers from before the
    pool lie back to ``INDEX_START_BLOCK``, far more blocks than the node serves at once."""
    m = registered_market
    settings.INDEX_START_BLOCK = 0
    settings.INDEX_SPAN_INITIAL = settings.INDEX_SPAN_MAX = 4  # following the head: small batches
    with LimitedNode(m.url, max_blocks=CAP) as node:
        chain_index_to_head(chain_id=m.chain_id, rpc=rpc_client(node.url))
        refused_before = node.refused

        delta = deploy_erc20(m.w3, name="Delta", symbol="DELTA", supply=1_000_000 * E18, sender=m.deployer)
        for trader in m.traders[:3]:
            m.send(delta, m.deployer, trader, 5_000 * E18)  # history before any pool
        for _ in range(CAP * 3):  # the pool comes well over a cap's worth of blocks later
            m.advance(60)
        pair = create_pool_with_liquidity(
            m.w3,
            dex=m.dexes[0],
            token_a=m.weth,
            amount_a=10 * E18,
            token_b=delta,
            amount_b=100_000 * E18,
            provider=m.deployer,
        )
        m.buy(m.traders[4], delta, E18 // 10)

        chain_index_to_head(chain_id=m.chain_id, rpc=rpc_client(node.url))

    assert node.refused > refused_before, "the history read was never refused: the test did not exercise the cap"
    assert max(end - start + 1 for start, end in node.answered) <= CAP
    token = Token.objects.get(chain_id=m.chain_id, symbol="DELTA")
    pool = Pool.objects.get(chain_id=m.chain_id, address=pair)
    assert Transfer.objects.filter(token=token, block_number__lt=pool.created_block).count() >= 3
    holders = HolderBalance.objects.filter(token=token, balance__gt=0)
    assert holders.count() >= 5  # deployer, three traders, the pool, the buyer
    for holder in holders:
        assert holder.balance == m.balance(delta, holder.address), holder.address


@pytest.mark.parametrize("max_batch", [3, 0])
def test_a_node_that_limits_batches_gets_smaller_ones_and_gives_the_same_state(  # type: ignore[no-untyped-def]
    registered_market, settings, max_batch
) -> None:
    """Headers and token metadata are read in batches of up to 200 and 50; a node taking at
    most 3 gets batches of 3 after a few refusals, one taking none gets single requests."""
    unlimited, limited, node, client = _index_directly_then_through_limits(
        registered_market, settings, max_batch=max_batch
    )
    assert limited == unlimited
    assert node.refused_batches, "no batch was refused: the test did not exercise the limit"
    assert all(size <= max_batch for size in node.batches)
    assert client.max_batch == 0 if max_batch == 0 else 1 <= (client.max_batch or 0) <= max_batch
    assert node.refused_batches <= 12  # learned from the first refusals, not met on every batch


def test_a_providers_documented_limits_are_never_met(registered_market, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RPC_MAX_LOG_BLOCKS, settings.RPC_MAX_BATCH = CAP, 3
    unlimited, limited, node, _ = _index_directly_then_through_limits(
        registered_market, settings, max_blocks=CAP, max_batch=3
    )
    assert limited == unlimited
    assert node.answered and node.batches  # logs and batches went through
    assert (node.refused, node.refused_batches) == (0, 0)


def test_the_learned_log_range_is_close_to_the_nodes_limit(registered_market) -> None:  # type: ignore[no-untyped-def]
    """Halving a refused range overshoots (40 refused, 20 refused, 10 taken, for a limit of
    19); one probe between the sizes taken and refused brings the cap to 15."""
    m = registered_market
    while m.w3.eth.block_number < 120:
        m.advance(12)
    addresses = [*m.tokens.values(), *m.pools]
    topics = [*d.TOKEN_TOPICS, *d.POOL_TOPICS]
    with LimitedNode(m.url, max_blocks=19) as node:
        indexer = ChainIndexer(rpc=rpc_client(node.url), chain_id=m.chain_id)
        logs = indexer._get_logs(0, 119, addresses, topics)
    direct = ChainIndexer(rpc=rpc_client(m.url), chain_id=m.chain_id)._get_logs(0, 119, addresses, topics)
    assert logs == direct and logs
    assert indexer.rpc.max_log_blocks is not None and 19 * 2 / 3 <= indexer.rpc.max_log_blocks <= 19
    assert max(end - start + 1 for start, end in node.answered) <= 19
