"""The market simulator against real anvil nodes: determinism, scenarios, feed and registry.

Each simulation gets a fresh node (its own port, genesis a day before the history) because
determinism is about the state a run builds from genesis. Runs are small (6 tokens, 2 days)
so the whole file stays within about a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from chain import registry
from chain.contracts import connect, contract_at, wait_for_receipts
from chain.node import AnvilProcess, free_port, start_anvil
from chain.simulator import SimulationConfig, SimulationError, SimulationResult, calldata, simulate_market
from chain.simulator.scenarios import scenarios_read
from chain.simulator.social import read_posts
from tests.chain.conftest import require_chain_tooling

START = 1_760_000_400 // 3600 * 3600  # fixed history start (2025-10-09 09:00 UTC)
SMALL = {"tokens": 6, "days": 2.0}
TRANSFER_TOPIC = Web3.keccak(text="Transfer(address,address,uint256)").to_0x_hex()
TAX_TAKEN_TOPIC = Web3.keccak(text="TaxTaken(address,address,uint256)").to_0x_hex()


@contextmanager
def fresh_node(log_dir: Path) -> Iterator[AnvilProcess]:
    require_chain_tooling()
    node = start_anvil(
        port=free_port(), log_path=log_dir / "anvil.log", extra_args=["--timestamp", str(START - 86_400)]
    )
    try:
        yield node
    finally:
        node.stop()


def run(node: AnvilProcess, var_dir: Path, *, seed: int = 7, **overrides: Any) -> SimulationResult:
    config = SimulationConfig(
        rpc_url=node.url,
        seed=seed,
        start_time=START,
        var_dir=var_dir,
        record_registry=False,
        **{**SMALL, **overrides},
    )
    return simulate_market(config, progress=None)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimulationResult, Web3, Path]]:
    """One small simulation whose node stays up for the scenario checks."""
    var_dir = tmp_path_factory.mktemp("sim")
    with fresh_node(var_dir) as node:
        result = run(node, var_dir)
        yield result, connect(node.url), var_dir


def scenario(var_dir: Path, kind: str) -> dict[str, Any]:
    truth = scenarios_read(var_dir / "chain" / "scenarios-31337.json")
    return next(s for s in truth["scenarios"] if s["scenario"] == kind)


def phase(row: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in row["phases"] if p["phase"] == name)


def reserves(w3: Web3, pair: str, token: str, block: int) -> tuple[int, int]:
    """(token reserve, quote reserve) of ``pair`` at ``block``."""
    contract = contract_at(w3, "v2-core:UniswapV2Pair", pair)
    r0, r1, _ = contract.functions.getReserves().call(block_identifier=block)
    token0 = contract.functions.token0().call()
    return (r0, r1) if token0 == token else (r1, r0)


def test_same_seed_gives_the_same_state_and_another_seed_does_not(
    simulated: tuple[SimulationResult, Web3, Path], tmp_path: Path
) -> None:
    first, _, _ = simulated
    with fresh_node(tmp_path) as node:
        again = run(node, tmp_path / "again")
    with fresh_node(tmp_path) as node:
        other = run(node, tmp_path / "other", seed=8)
    assert first.state_root == again.state_root
    assert (first.blocks, first.txs, first.posts) == (again.blocks, again.txs, again.posts)
    assert other.state_root != first.state_root


def test_history_spans_the_window_with_many_transactions_and_an_exact_mirror(
    simulated: tuple[SimulationResult, Web3, Path],
) -> None:
    result, w3, _ = simulated
    assert result.end_time == START + 2 * 86_400
    last = w3.eth.get_block(result.last_block)
    assert START < last["timestamp"] <= result.end_time + 900
    assert result.blocks >= 180 and result.txs >= 1_000
    assert result.mirror_drift == 0  # transactions were mined in the order the agents decided
    assert w3.provider.make_request("eth_mining", [])  # type: ignore[arg-type]


def test_soft_rug_pulls_nearly_all_pool_liquidity(simulated: tuple[SimulationResult, Web3, Path]) -> None:
    _, w3, var_dir = simulated
    rug = scenario(var_dir, "soft_rug")
    pull = phase(rug, "rug")
    pair = rug["pools"][0]["address"]
    _, quote_before = reserves(w3, pair, rug["token"], pull["start_block"] - 1)
    _, quote_after = reserves(w3, pair, rug["token"], pull["end_block"])
    assert quote_after < quote_before * 0.1


def test_honeypot_sells_revert_on_chain_while_buys_succeed(simulated: tuple[SimulationResult, Web3, Path]) -> None:
    result, w3, var_dir = simulated
    honeypot = scenario(var_dir, "honeypot")
    assert result.expected_reverts, "nobody tried to sell the honeypot"
    receipts = wait_for_receipts(w3, result.expected_reverts, require_success=False)
    assert {int(r["status"], 16) for r in receipts} == {0}
    pair = honeypot["pools"][0]["address"]
    pair_topic = "0x" + pair[2:].lower().rjust(64, "0")
    buys = w3.eth.get_logs(
        {"address": honeypot["token"], "fromBlock": 0, "toBlock": "latest", "topics": [TRANSFER_TOPIC, pair_topic]}
    )
    assert len(buys) >= 5  # tokens left the pair: buys went through


def test_tax_token_takes_its_tax_to_the_treasury(simulated: tuple[SimulationResult, Web3, Path]) -> None:
    _, w3, var_dir = simulated
    tax = scenario(var_dir, "tax")
    taken = w3.eth.get_logs({"address": tax["token"], "fromBlock": 0, "toBlock": "latest", "topics": [TAX_TAKEN_TOPIC]})
    assert taken
    treasury = tax["actors"]["treasury"]
    assert contract_at(w3, "openzeppelin:ERC20", tax["token"]).functions.balanceOf(treasury).call() > 0


def test_whales_accumulate_before_the_rally_and_the_rally_lifts_the_price(
    simulated: tuple[SimulationResult, Web3, Path],
) -> None:
    _, w3, var_dir = simulated
    whale = scenario(var_dir, "whale_rally")
    token = contract_at(w3, "openzeppelin:ERC20", whale["token"])
    accumulation, rally = phase(whale, "accumulation"), phase(whale, "rally")

    def whale_holdings(block: int) -> int:
        return sum(token.functions.balanceOf(w).call(block_identifier=block) for w in whale["actors"]["whales"])

    assert whale_holdings(accumulation["end_block"]) > whale_holdings(accumulation["start_block"] - 1)
    pair = whale["pools"][0]["address"]
    base0, quote0 = reserves(w3, pair, whale["token"], rally["start_block"] - 1)
    base1, quote1 = reserves(w3, pair, whale["token"], rally["end_block"])
    assert quote1 / base1 > quote0 / base0 * 1.2


def test_ground_truth_and_social_feed_are_written(simulated: tuple[SimulationResult, Web3, Path]) -> None:
    result, _, var_dir = simulated
    truth = scenarios_read(var_dir / "chain" / "scenarios-31337.json")
    assert {s["scenario"] for s in truth["scenarios"]} == {
        "whale_rally",
        "soft_rug",
        "honeypot",
        "tax",
        "pump_dump",
        "mintable",
    }
    for row in truth["scenarios"]:
        assert Web3.is_checksum_address(row["token"]) and row["phases"]
        assert all(p["start_time"] < p["end_time"] for p in row["phases"])
    posts = list(read_posts(var_dir / "social" / "posts-31337.jsonl"))
    assert len(posts) == result.posts > 20
    assert [p.timestamp for p in posts] == sorted(p.timestamp for p in posts)
    pump = scenario(var_dir, "pump_dump")
    pump_start = phase(pump, "pump")["start_time"]
    hype = [p for p in read_posts(var_dir / "social" / "posts-31337.jsonl", symbol=pump["symbol"], until=pump_start)]
    assert any(w in p.text for p in hype for w in ("moon", "100x", "parabolic", "gem", "bullish"))


def test_run_records_the_deployment_registry(db: None, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path
    with fresh_node(tmp_path) as node:
        config = SimulationConfig(rpc_url=node.url, tokens=2, days=0.5, start_time=START, var_dir=tmp_path)
        result = simulate_market(config, progress=None)
        w3 = connect(node.url)
        dexes = registry.dex_deployments(chain_id=31337)
        assert [d.name for d in dexes] == ["sushiswap", "uniswap-v2"]
        for dex in dexes:
            assert dex.fee_bps == 30 and len(w3.eth.get_code(dex.router)) > 0
        quotes = registry.quote_assets(chain_id=31337)
        assert contract_at(w3, "openzeppelin:ERC20", quotes.stablecoins[0]).functions.decimals().call() == 6
        assert contract_at(w3, "openzeppelin:ERC20", quotes.weth).functions.symbol().call() == "WETH"
    names = {row.name for row in registry.deployments_for_chain(chain_id=31337)}
    assert {"weth", "token:USDC", "executor", "pool:uniswap-v2:WETH-USDC"} <= names
    assert {f"token:{t['symbol']}" for t in result.tokens} <= names
    assert any(n.startswith("pool:") and "WETH-USDC" not in n for n in names)  # launched token pools
    on_disk = registry.deployments_json_read(chain_id=31337)
    assert {d["name"] for d in on_disk["deployments"]} == names


def test_calldata_encoders_match_web3() -> None:
    require_chain_tooling()
    w3 = Web3()
    router = w3.eth.contract(abi=contract_at(w3, "v2-periphery:UniswapV2Router02", "0x" + "11" * 20).abi)
    token = w3.eth.contract(abi=contract_at(w3, "MintableToken", "0x" + "22" * 20).abi)
    a, b, to = (Web3.to_checksum_address("0x" + c * 40) for c in "abc")
    deadline = calldata.FAR_DEADLINE
    cases = [
        (
            calldata.swap_eth_for_tokens([a, b], to, 5),
            router,
            "swapExactETHForTokensSupportingFeeOnTransferTokens",
            [5, [a, b], to, deadline],
        ),
        (
            calldata.swap_tokens_for_eth(7, [a, b], to),
            router,
            "swapExactTokensForETHSupportingFeeOnTransferTokens",
            [7, 0, [a, b], to, deadline],
        ),
        (
            calldata.swap_tokens_for_tokens(7, [a, b], to),
            router,
            "swapExactTokensForTokensSupportingFeeOnTransferTokens",
            [7, 0, [a, b], to, deadline],
        ),
        (calldata.add_liquidity_eth(a, 9, to), router, "addLiquidityETH", [a, 9, 0, 0, to, deadline]),
        (calldata.add_liquidity(a, b, 9, 8, to), router, "addLiquidity", [a, b, 9, 8, 0, 0, to, deadline]),
        (calldata.remove_liquidity_eth(a, 3, to), router, "removeLiquidityETH", [a, 3, 0, 0, to, deadline]),
        (calldata.remove_liquidity(a, b, 3, to), router, "removeLiquidity", [a, b, 3, 0, 0, to, deadline]),
        (calldata.transfer(to, 11), token, "transfer", [to, 11]),
        (calldata.approve(to), token, "approve", [to, calldata.MAX_UINT256]),
        (calldata.mint(to, 12), token, "mint", [to, 12]),
    ]
    for ours, contract, function, args in cases:
        assert ours == contract.encode_abi(function, args=args), function


def test_a_node_newer_than_the_start_time_is_refused(anvil_node: AnvilProcess, tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="cannot go back in time"):
        run(anvil_node, tmp_path)


def test_a_missing_node_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="no JSON-RPC node answers"):
        run_config = SimulationConfig(rpc_url=f"http://127.0.0.1:{free_port()}", start_time=START, var_dir=tmp_path)
        simulate_market(run_config, progress=None)
