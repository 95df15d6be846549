"""The slicing decoders agree with web3's ABI decoder on every event type the indexer reads."""

from __future__ import annotations

import pytest
from web3 import Web3

from chain.contracts import load_artifact
from market import decode as d
from market.decode import UndecodableLog
from market.rpc import RpcClient

pytestmark = pytest.mark.chain

EVENTS = {
    d.TRANSFER: ("openzeppelin:IERC20", "Transfer", d.decode_transfer, ("from", "to", "value")),
    d.SWAP: (
        "v2-core:UniswapV2Pair",
        "Swap",
        d.decode_swap,
        ("sender", "to", "amount0In", "amount1In", "amount0Out", "amount1Out"),
    ),
    d.SYNC: ("v2-core:UniswapV2Pair", "Sync", d.decode_sync, ("reserve0", "reserve1")),
    d.MINT: ("v2-core:UniswapV2Pair", "Mint", d.decode_mint, ("sender", "amount0", "amount1")),
    d.BURN: ("v2-core:UniswapV2Pair", "Burn", d.decode_burn, ("sender", "amount0", "amount1", "to")),
    d.PAIR_CREATED: ("v2-core:UniswapV2Factory", "PairCreated", d.decode_pair_created, ("token0", "token1", "pair")),
    d.DEPOSIT: ("v2-periphery:WETH9", "Deposit", d.decode_wrap, None),
    d.WITHDRAWAL: ("v2-periphery:WETH9", "Withdrawal", d.decode_wrap, None),
}


def test_fast_decoders_agree_with_web3_on_every_event_type(mini_market) -> None:  # type: ignore[no-untyped-def]
    m = mini_market
    m.buy(m.traders[1], m.tokens["ALPHA"], 10**17)  # Deposit of WETH
    m.sell(m.traders[1], m.tokens["ALPHA"], 10**18)  # Withdrawal of WETH
    # Remove some liquidity so a Burn exists.
    pair = m.w3.eth.contract(address=m.pools[2], abi=load_artifact("v2-core:UniswapV2Pair").abi)
    lp = pair.functions.balanceOf(m.deployer).call()
    pair.functions.transfer(m.pools[2], lp // 10).transact({"from": m.deployer})
    pair.functions.burn(m.deployer).transact({"from": m.deployer})

    rpc = RpcClient(m.url)
    logs = rpc.call("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest", "topics": [list(EVENTS)]}])
    seen: dict[str, int] = {}
    for log in logs:
        if log["topics"][0] == d.TRANSFER and len(log["topics"]) != 3:
            with pytest.raises(UndecodableLog):
                d.decode_transfer(log)
            continue
        artifact, event_name, fast, fields = EVENTS[log["topics"][0]]
        contract = m.w3.eth.contract(abi=load_artifact(artifact).abi)
        web3_log = {
            **log,
            "topics": [bytes.fromhex(t[2:]) for t in log["topics"]],
            "data": bytes.fromhex(log["data"][2:]),
            "blockNumber": int(log["blockNumber"], 16),
            "logIndex": int(log["logIndex"], 16),
            "transactionIndex": int(log["transactionIndex"], 16),
        }
        args = getattr(contract.events, event_name)().process_log(web3_log)["args"]
        if event_name == "Deposit":
            expected = (d.ZERO_ADDRESS, args["dst"], args["wad"])
        elif event_name == "Withdrawal":
            expected = (args["src"], d.ZERO_ADDRESS, args["wad"])
        else:
            expected = tuple(args[name] for name in fields)
        got = fast(log)
        assert got == (expected if len(expected) > 1 else expected[0]) or got == expected, event_name
        seen[event_name] = seen.get(event_name, 0) + 1
    assert set(seen) == {"Transfer", "Swap", "Sync", "Mint", "Burn", "PairCreated", "Deposit", "Withdrawal"}
    assert all(
        Web3.is_checksum_address(a) for a in d.decode_swap(next(x for x in logs if x["topics"][0] == d.SWAP))[:2]
    )


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("0x" + "4d4b52".ljust(64, "0"), ("MKR", True)),
        ("0x" + f"{32:064x}" + f"{4:064x}" + "55534443".ljust(64, "0"), ("USDC", False)),
    ],
)
def test_metadata_strings_decode_from_abi_strings_and_bytes32(result: str, expected: tuple[str, bool]) -> None:
    assert d.decode_string_or_bytes32(result) == expected


def test_truncated_data_is_undecodable_with_a_reason() -> None:
    log = {"topics": [d.SYNC], "data": "0x" + "00" * 40}
    with pytest.raises(UndecodableLog, match="expected 2 data words"):
        d.decode_sync(log)
