"""The indexer against a real local chain: what it stores must equal what the chain says."""

from __future__ import annotations

from collections import defaultdict

import pytest
from web3 import Web3

from chain.contracts import contract_at
from market import decode as d
from market.indexer import ChainIndexer
from market.models import (
    Candle,
    Checkpoint,
    HolderBalance,
    Pool,
    SkippedLog,
    Swap,
    Token,
    TokenActivity,
    Transfer,
)
from market.selectors import market_state_digest, top_holders
from market.services import chain_index_reset, chain_index_to_head, index_sources_sync, rpc_client

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

PAIR = "v2-core:UniswapV2Pair"
ERC20 = "openzeppelin:IERC20"


def index(market, **kwargs) -> None:  # type: ignore[no-untyped-def]
    chain_index_to_head(chain_id=market.chain_id, rpc=rpc_client(market.url), **kwargs)


def indexed_block(market) -> int:  # type: ignore[no-untyped-def]
    return Checkpoint.objects.get(chain_id=market.chain_id).next_block - 1


def test_every_indexed_balance_equals_balance_of_at_the_same_block(registered_market) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    index(m)
    block = indexed_block(m)
    rows = list(HolderBalance.objects.select_related("token"))
    assert len(rows) > 40
    for row in rows:
        on_chain = (
            contract_at(m.w3, ERC20, row.token.address).functions.balanceOf(row.address).call(block_identifier=block)
        )
        assert row.balance == on_chain, f"{row.token.symbol} {row.address}"
    # Every address that ever received a token has a row, including pre-pool distributions.
    for token in Token.objects.all():
        receivers = set(Transfer.objects.filter(token=token).values_list("to_address", flat=True)) - {
            "0x0000000000000000000000000000000000000000"
        }
        assert receivers <= set(HolderBalance.objects.filter(token=token).values_list("address", flat=True))


def test_holder_counts_and_supply_equal_a_recount_and_total_supply(registered_market) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    index(m)
    block = indexed_block(m)
    for token in Token.objects.all():
        erc20 = contract_at(m.w3, ERC20, token.address)
        assert token.total_supply == erc20.functions.totalSupply().call(block_identifier=block), token.symbol
        recount = sum(
            1
            for address in HolderBalance.objects.filter(token=token).values_list("address", flat=True)
            if erc20.functions.balanceOf(address).call(block_identifier=block) > 0
        )
        assert token.holder_count == recount, token.symbol
    alpha = Token.objects.get(symbol="ALPHA")
    balances = [h.balance for h in top_holders(token=alpha, limit=5)]
    assert balances == sorted(balances, reverse=True) and len(balances) == 5


def test_pool_reserves_equal_get_reserves(registered_market) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    index(m)
    block = indexed_block(m)
    pools = list(Pool.objects.all())
    assert {p.address for p in pools} == set(m.pools)
    for pool in pools:
        reserve0, reserve1, _ = (
            contract_at(m.w3, PAIR, pool.address).functions.getReserves().call(block_identifier=block)
        )
        assert (pool.reserve0, pool.reserve1) == (reserve0, reserve1)


def test_candle_volumes_equal_the_sum_of_swap_amounts_decoded_by_web3(registered_market) -> None:  # type: ignore[no-untyped-def]
    """Swap amounts are decoded independently with web3's ABI decoder and summed per token."""
    m = registered_market
    index(m)
    expected: dict[str, float] = defaultdict(float)
    trades: dict[str, int] = defaultdict(int)
    for pool in Pool.objects.select_related("token0", "token1"):
        contract = contract_at(m.w3, PAIR, pool.address)
        base_is_0 = pool.token1.quote_kind == "usd" or (
            pool.token1.quote_kind == "native" and pool.token0.quote_kind != "usd"
        )
        base = pool.token0 if base_is_0 else pool.token1
        for event in contract.events.Swap().get_logs(from_block=0, to_block=indexed_block(m)):
            args = event["args"]
            moved = (
                abs(args["amount0Out"] - args["amount0In"])
                if base_is_0
                else abs(args["amount1Out"] - args["amount1In"])
            )
            expected[base.symbol] += moved / 10 ** (base.decimals or 18)
            trades[base.symbol] += 1
    assert len(expected) >= 4
    for symbol, volume in expected.items():
        token = Token.objects.get(symbol=symbol)
        for interval in ("1m", "1h", "1d"):
            candles = Candle.objects.filter(token=token, interval=interval)
            assert sum(c.volume for c in candles) == pytest.approx(volume, rel=1e-9), (symbol, interval)
            assert sum(c.trades for c in candles) == trades[symbol]
            assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in candles)


def test_prices_follow_the_pools(registered_market) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    index(m)
    usdc = Token.objects.get(symbol="USDC")
    weth = Token.objects.get(address=m.weth)
    assert usdc.price_usd == 1.0
    # The WETH/USDC pools were seeded at 3,000 and 3,050 USDC per WETH.
    assert 2_500 < weth.price_usd < 3_600
    alpha = Token.objects.get(symbol="ALPHA")
    assert alpha.price_usd and alpha.liquidity_usd > 0 and alpha.market_updated_at is not None
    last = Swap.objects.filter(base_token=alpha, price_usd__isnull=False).order_by("-block_number").first()
    assert last is not None and last.volume_usd == pytest.approx(last.price_usd * last.base_amount)


def test_non_standard_tokens_are_flagged_not_fatal(registered_market) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    index(m)
    mkr = Token.objects.get(address=m.tokens["MKR32"])
    assert (mkr.symbol, mkr.name) == ("MKR32", "Maker32")
    assert "symbol:bytes32" in mkr.metadata_issues
    broken = Token.objects.get(address=m.tokens["REVERT"])
    assert broken.decimals is None
    assert {"name:reverted", "decimals:reverted"} <= set(broken.metadata_issues)
    assert HolderBalance.objects.filter(token=broken, balance__gt=0).exists()


def test_a_log_that_does_not_fit_its_abi_is_recorded_and_skipped(registered_market) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    index(m)
    skipped = SkippedLog.objects.get(chain_id=m.chain_id, address=m.tokens["ODD"])
    assert skipped.reason == "Transfer with 4 topics (not an ERC-20 Transfer)"
    odd = Token.objects.get(address=m.tokens["ODD"])
    # The ERC-721-shaped log moved nothing: balances still match the chain.
    for row in HolderBalance.objects.filter(token=odd):
        assert row.balance == m.balance(odd.address, row.address, indexed_block(m))


def test_a_second_run_changes_nothing_and_new_trades_are_picked_up(registered_market) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    index(m)
    before = market_state_digest(chain_id=m.chain_id)
    index(m)
    assert market_state_digest(chain_id=m.chain_id) == before

    trader = m.traders[0]
    m.buy(trader, m.tokens["GAMMA6"], Web3.to_wei(1, "ether"))
    index(m)
    gamma = Token.objects.get(symbol="GAMMA6")
    held = HolderBalance.objects.get(token=gamma, address=trader).balance
    assert held == m.balance(m.tokens["GAMMA6"], trader)
    assert market_state_digest(chain_id=m.chain_id)["sha256"] != before["sha256"]


def test_many_small_batches_give_the_same_state_as_one(registered_market, settings) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    settings.INDEX_SPAN_INITIAL = settings.INDEX_SPAN_MAX = 3
    index(m)
    small = market_state_digest(chain_id=m.chain_id)
    chain_index_reset(chain_id=m.chain_id)
    settings.INDEX_SPAN_INITIAL = settings.INDEX_SPAN_MAX = 100_000
    index(m)
    whole = market_state_digest(chain_id=m.chain_id)
    assert small == whole
    assert TokenActivity.objects.filter(interval="1d", unique_traders__gt=0).exists()


class RecordingRpc:
    """The real client, with the block ranges of its ``eth_getLogs`` requests noted."""

    def __init__(self, url: str) -> None:
        self.client = rpc_client(url)
        self.ranges: list[tuple[int, int, tuple[str, ...]]] = []
        real = self.client._get_logs

        def get_logs(filter_):  # type: ignore[no-untyped-def]
            topics = tuple(filter_["topics"][0])
            self.ranges.append((int(filter_["fromBlock"], 16), int(filter_["toBlock"], 16), topics))
            return real(filter_)

        self.client._get_logs = get_logs  # type: ignore[method-assign]


def test_a_catch_up_in_small_batches_reads_each_block_once_and_keeps_pre_pool_history(
    registered_market, settings
) -> None:  # type: ignore[no-untyped-def]
    """The tokens of pools created mid-run have transfers from before their pool (the
    fixture distributes ALPHA first); the planned run reads every block once for them
    instead of reading their history again when the pool appears, and stores the same."""
    m = registered_market
    settings.INDEX_SPAN_INITIAL = settings.INDEX_SPAN_MAX = 3
    recording = RecordingRpc(m.url)
    chain_index_to_head(chain_id=m.chain_id, rpc=recording.client)
    small = market_state_digest(chain_id=m.chain_id)
    head = indexed_block(m)

    scans = [(start, end) for start, end, topics in recording.ranges if topics != (d.PAIR_CREATED,)]
    read = sum(end - start + 1 for start, end in scans)
    assert read == head + 1  # every block once: no range read again for a discovered token
    assert Transfer.objects.filter(
        token__symbol="ALPHA", block_number__lt=Pool.objects.order_by("created_block").first().created_block
    ).exists()

    chain_index_reset(chain_id=m.chain_id)
    settings.INDEX_SPAN_INITIAL = settings.INDEX_SPAN_MAX = 100_000
    index(m)
    assert market_state_digest(chain_id=m.chain_id) == small


def test_kept_history_that_overflows_is_read_again_with_the_same_result(registered_market, settings) -> None:  # type: ignore[no-untyped-def]
    m = registered_market
    settings.INDEX_SPAN_INITIAL = settings.INDEX_SPAN_MAX = 3
    settings.INDEX_BATCH_TARGET_LOGS = 1  # every kept log overflows: discoveries read history from the node
    index_sources_sync(chain_id=m.chain_id)
    indexer = ChainIndexer(rpc=rpc_client(m.url), chain_id=m.chain_id)
    indexer.run_to_head()
    assert indexer.kept_overflow  # some history was dropped, then read again
    overflowed = market_state_digest(chain_id=m.chain_id)
    chain_index_reset(chain_id=m.chain_id)
    settings.INDEX_SPAN_INITIAL = settings.INDEX_SPAN_MAX = 100_000
    settings.INDEX_BATCH_TARGET_LOGS = 50_000
    index(m)
    assert market_state_digest(chain_id=m.chain_id) == overflowed
