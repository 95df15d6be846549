"""BulkSender: many transactions in JSON-RPC batches, in order, with receipts checked."""

from __future__ import annotations

import pytest
from eth_typing import ChecksumAddress
from web3 import Web3

from chain.contracts import (
    BulkMode,
    BulkSender,
    TransactionFailed,
    contract_at,
    encode_call,
    impersonate,
    wait_for_receipts,
)
from chain.deploy import create_pool_with_liquidity, deploy_erc20
from tests.chain.conftest import World
from tests.chain.helpers import deadline, erc20, fresh_account

ETH = 10**18


@pytest.mark.parametrize("mode", list(BulkMode))
def test_bulk_transfers_then_dependent_swaps(w3: Web3, world: World, deployer: ChecksumAddress, mode: BulkMode) -> None:
    token_addr = deploy_erc20(w3, name="Bulk", symbol="BULK", supply=10**9 * ETH, sender=deployer)
    create_pool_with_liquidity(
        w3,
        dex=world.dex_a,
        token_a=token_addr,
        amount_a=10**8 * ETH,
        token_b=world.weth,
        amount_b=50 * ETH,
        provider=deployer,
    )
    token = erc20(w3, token_addr)
    router = contract_at(w3, "UniswapV2Router02", world.dex_a.router)
    offset = 0 if mode is BulkMode.ORDERED else 100
    traders = [impersonate(w3, fresh_account(w3, offset + i), balance_wei=ETH) for i in range(40)]

    sender = BulkSender(w3, mode=mode, batch_size=64)
    for trader in traders:
        sender.add(token_addr, encode_call(token, "transfer", trader, 1_000 * ETH), sender=deployer)
    # BLOCKS mode does not order transactions of different senders inside a block, so the
    # funding goes out first; ORDERED would not need this flush.
    sender.flush()
    # Each trader's approve and swap depend on each other; per-sender nonces keep them in
    # order within and across batches.
    for trader in traders:
        sender.add_call(token.functions.approve(world.dex_a.router, 500 * ETH), sender=trader)
        sender.add_call(
            router.functions.swapExactTokensForETH(500 * ETH, 0, [token_addr, world.weth], trader, deadline(w3)),
            sender=trader,
        )
    receipts = sender.flush_and_wait()
    assert len(receipts) == 3 * len(traders)
    assert all(int(r["status"], 16) == 1 for r in receipts)
    # What each trader paid for gas, from the receipts: the base fee climbs when the batches fill
    # blocks, so a fixed margin over the starting 1 ETH would depend on the load.
    gas_paid: dict[str, int] = {}
    for r in receipts:
        sender_address = Web3.to_checksum_address(r["from"])
        gas_paid[sender_address] = gas_paid.get(sender_address, 0) + int(r["gasUsed"], 16) * int(
            r["effectiveGasPrice"], 16
        )
    for trader in traders:
        assert token.functions.balanceOf(trader).call() == 500 * ETH
        assert gas_paid[trader] > 0
        assert w3.eth.get_balance(trader) + gas_paid[trader] > ETH  # the swap paid out ETH for the tokens


@pytest.mark.parametrize("mode", list(BulkMode))
def test_bulk_reports_reverted_transactions(w3: Web3, deployer: ChecksumAddress, mode: BulkMode) -> None:
    token_addr = deploy_erc20(w3, name="Fail", symbol="FAIL", supply=100, sender=deployer)
    token = erc20(w3, token_addr)
    holder = fresh_account(w3, 1_000 + len(mode.value))
    sender = BulkSender(w3, mode=mode)
    sender.add_call(token.functions.transfer(holder, 60), sender=deployer)
    sender.add_call(token.functions.transfer(holder, 60), sender=deployer)  # exceeds the balance left
    hashes = sender.flush()
    with pytest.raises(TransactionFailed, match="1 of 2 transactions reverted"):
        wait_for_receipts(w3, hashes)
    receipts = wait_for_receipts(w3, hashes, require_success=False)
    assert [int(r["status"], 16) for r in receipts] == [1, 0]
    assert token.functions.balanceOf(holder).call() == 60


def test_ordered_mode_keeps_cross_sender_order_within_blocks(w3: Web3, world: World, deployer: ChecksumAddress) -> None:
    token_addr = deploy_erc20(w3, name="Order", symbol="ORD", supply=10**9 * ETH, sender=deployer)
    create_pool_with_liquidity(
        w3,
        dex=world.dex_b,
        token_a=token_addr,
        amount_a=10**8 * ETH,
        token_b=world.weth,
        amount_b=50 * ETH,
        provider=deployer,
    )
    token = erc20(w3, token_addr)
    router = contract_at(w3, "UniswapV2Router02", world.dex_b.router)
    traders = [impersonate(w3, fresh_account(w3, 200 + i), balance_wei=ETH) for i in range(15)]
    start_block = w3.eth.block_number

    sender = BulkSender(w3, txs_per_block=9, batch_size=1_000)
    for trader in traders:  # funding and spending interleaved, often in the same block
        sender.add_call(token.functions.transfer(trader, 100 * ETH), sender=deployer)
        sender.add_call(token.functions.approve(world.dex_b.router, 100 * ETH), sender=trader)
        sender.add_call(
            router.functions.swapExactTokensForETH(100 * ETH, 0, [token_addr, world.weth], trader, deadline(w3)),
            sender=trader,
        )
    receipts = sender.flush_and_wait()
    assert [int(r["blockNumber"], 16) for r in receipts] == [start_block + 1 + i // 9 for i in range(45)]
    assert all(token.functions.balanceOf(t).call() == 0 for t in traders)
