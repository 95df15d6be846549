"""Run the market simulation against a node: set-up, fast history, optional live follow.

How the history is made fast: automine is switched off, each simulated block's
transactions are queued with batched ``eth_sendTransaction`` (anvil signs for any address
once auto-impersonation is on, and ``anvil_setBalance`` funds them), and one ``evm_mine``
per step seals them at the step's timestamp. Nothing waits for receipts; the engine only
re-reads pool reserves once per simulated day to check its mirror.

Determinism: decisions come from one ``random.Random(seed)``, block timestamps from the
timeline (never the wall clock), so a fresh node, the same seed, token count, days and
start time give the same state root. Nothing here writes market data to the database:
only the deployment registry rows.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import Web3Exception

from chain import registry
from chain.contracts import connect, deploy_contract
from chain.deploy import Dex, create_pool_with_liquidity, deploy_dex, deploy_erc20, deploy_swap_executor, deploy_weth
from chain.simulator.amm import Pool
from chain.simulator.market import (
    ETHER,
    ORGANIC_ROLE,
    USDC_UNIT,
    Accounts,
    Market,
    SimToken,
    TxIntent,
    sim_address,
    token_symbols,
)
from chain.simulator.scenarios import scenario_plan, scenario_roles, scenarios_file_path, scenarios_write
from chain.simulator.social import SocialFeed, social_feed_path

DEX_NAMES = ("uniswap-v2", "sushiswap")
ACCOUNT_BALANCE_WEI = 10**6 * ETHER  # every simulated actor: far more ETH than it can spend
USDC_SUPPLY = 10**12 * USDC_UNIT  # one trillion USDC, held by the deployer, handed out at set-up
GAS_BUDGET_SHARE = 0.8  # fill blocks to at most this share of the block gas limit
SETUP_BLOCK_SECONDS = 1  # spacing of set-up blocks (deploys) at the start of the history
GET_RESERVES = "0x0902f1ac"
# Legacy gas price of history transactions (wei); far above anvil's base fee, which falls
# toward zero in blocks under half full, so the per-position price steps always count.
TX_GAS_PRICE_WEI = 10 * 10**9

NODE_TOO_NEW = (
    "the node's latest block is at {head} ({head_iso}), after the simulation start {start} ({start_iso}); "
    "blocks cannot go back in time. Start a fresh node whose genesis is older "
    "(e.g. `anvil --timestamp {suggest}`), or pass a later --start-time."
)


class SimulationError(RuntimeError):
    """The simulation cannot run or continue (node down, node too new, rejected transactions)."""


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. ``days`` of history end at ``start_time + days``; times are unix seconds."""

    rpc_url: str
    tokens: int = 60
    days: float = 30.0
    seed: int = 7
    start_time: int | None = None  # default: now minus ``days``, aligned down to the hour
    intensity: float = 1.0  # multiplies trading activity (1.0 ≈ 70k transactions over 30 days)
    block_seconds: int = 900  # simulated seconds between history blocks (anvil's per-block cost sets the pace)
    follow: bool = False
    follow_block_seconds: float = 3.0  # wall-clock seconds between live blocks
    var_dir: Path | None = None  # default: settings.VAR_DIR
    record_registry: bool = True


@dataclass
class SimulationResult:
    """What a run produced: counts, timing, files and the final state root."""

    chain_id: int
    start_time: int
    end_time: int
    first_block: int
    last_block: int
    blocks: int
    txs: int
    seconds: float
    state_root: str
    posts: int
    mirror_drift: int
    expected_reverts: list[str] = field(default_factory=list)
    scenarios_path: Path | None = None
    social_path: Path | None = None
    registry_path: Path | None = None
    tokens: list[dict[str, Any]] = field(default_factory=list)

    @property
    def txs_per_second(self) -> float:
        return self.txs / self.seconds if self.seconds else 0.0


def default_start_time(days: float, *, now: float | None = None) -> int:
    """Now minus ``days``, aligned down to the hour, so the history ends near now."""
    current = int(now if now is not None else time.time())
    return (current - int(days * 86_400)) // 3600 * 3600


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class Node:
    """The few raw JSON-RPC calls the engine makes, with node failures turned into clear errors."""

    def __init__(self, w3: Web3, url: str) -> None:
        self.w3 = w3
        self.url = url

    def call(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        except (requests.RequestException, OSError, Web3Exception) as exc:
            raise SimulationError(f"the node at {self.url} stopped answering ({method}): {exc}") from exc
        if "error" in response:
            raise SimulationError(f"{method} failed on {self.url}: {response['error']}")
        return response.get("result")

    def batch(self, requests_: list[tuple[str, list[Any]]]) -> list[Any]:
        if not requests_:
            return []
        try:
            responses = self.w3.provider.make_batch_request(requests_)  # type: ignore[attr-defined, arg-type]
        except (requests.RequestException, OSError, Web3Exception) as exc:
            raise SimulationError(f"the node at {self.url} stopped answering (batch): {exc}") from exc
        if not isinstance(responses, list):
            raise SimulationError(f"batch request failed on {self.url}: {responses}")
        errors = [r["error"] for r in responses if "error" in r]
        if errors:
            raise SimulationError(f"{len(errors)} batched calls failed on {self.url}: {errors[:3]}")
        return [r.get("result") for r in responses]

    def latest_block(self) -> dict[str, Any]:
        return dict(self.call("eth_getBlockByNumber", ["latest", False]))


# --- planning (no node) ------------------------------------------------------------------


def plan_tokens(count: int, rng: random.Random, start: int, end: int) -> list[SimToken]:
    """Draw the tokens: role, decimals, supply, popularity, liquidity, pools and script.

    Supplies span 10^6-10^12 whole tokens; launch liquidity is thin (0.3-3 ETH) for a fifth
    of organic tokens and up to 600 ETH for the deepest. Roles fix the contract: TaxToken,
    HoneypotToken and MintableToken for those scenarios, SimpleToken otherwise.
    """
    roles = scenario_roles(count, rng)
    names = token_symbols(count, rng)
    tokens = []
    for index, (role, (symbol, name)) in enumerate(zip(roles, names, strict=True)):
        contract = {"tax": "TaxToken", "honeypot": "HoneypotToken", "mintable": "MintableToken"}.get(
            role, "SimpleToken"
        )
        decimals = 18 if contract in ("TaxToken", "HoneypotToken") else rng.choice((18, 18, 18, 9, 6))
        supply = int(10 ** rng.uniform(6, 12)) * 10**decimals
        tier = rng.random()
        liquidity = {
            "whale_rally": rng.uniform(20, 60),
            "pump_dump": rng.uniform(3, 10),
            "soft_rug": rng.uniform(15, 40),
            "honeypot": rng.uniform(5, 15),
            "dead": rng.uniform(0.3, 2),
        }.get(role, rng.uniform(0.3, 3) if tier < 0.2 else rng.uniform(5, 60) if tier < 0.85 else rng.uniform(100, 600))
        quotes = [(DEX_NAMES[0] if rng.random() < 0.7 else DEX_NAMES[1], "WETH")]
        if role in (ORGANIC_ROLE, "mintable", "whale_rally"):
            draw = rng.random()
            if draw < 0.3:
                quotes.append((DEX_NAMES[1] if quotes[0][0] == DEX_NAMES[0] else DEX_NAMES[0], "WETH"))
            elif draw < 0.45:
                quotes.append((quotes[0][0], "USDC"))
            elif draw < 0.55:
                quotes = [(quotes[0][0], "USDC")]
        scenario = scenario_plan(role, rng, start, end)
        popularity = rng.lognormvariate(0, 1.0) if role == ORGANIC_ROLE else rng.uniform(0.6, 1.5)
        token = SimToken(
            index=index,
            symbol=symbol,
            name=name,
            contract=contract,
            decimals=decimals,
            supply=supply,
            owner=sim_address(f"owner:{index}"),
            scenario=scenario,
            popularity=popularity,
            liquidity_eth=liquidity,
            quotes=quotes,
            distribution="concentrated" if rng.random() < 0.4 else "broad",
        )
        if contract == "TaxToken":
            token.treasury = sim_address(f"treasury:{index}")
            token.buy_tax_bps = rng.choice((200, 300, 500))
            token.sell_tax_bps = rng.choice((500, 800, 1000))
        if role == "pump_dump":
            token.insiders = [sim_address(f"insider:{index}:{i}") for i in range(3)]
        scenario.actors = {"owner": token.owner}
        if token.insiders:
            scenario.actors["insiders"] = token.insiders
        if role == "whale_rally":
            scenario.actors["whales"] = [sim_address(f"whale:{index}:{i}") for i in range(3)]
        if token.treasury:
            scenario.actors["treasury"] = token.treasury
        tokens.append(token)
    return tokens


def plan_accounts(token_count: int) -> Accounts:
    """Dozens to hundreds of trader addresses, scaled with the number of tokens.

    Kept to a few hundred: every (holder, token) pair is a storage slot, and anvil's per-block
    cost grows with the size of the state, so more addresses mean slower blocks.
    """
    traders = min(300, 40 + 2 * token_count)
    return Accounts(
        traders=[sim_address(f"trader:{i}") for i in range(traders)],
        momentum=[sim_address(f"momentum:{i}") for i in range(20)],
        arbitrageurs=[sim_address(f"arbitrageur:{i}") for i in range(4)],
        holders=[sim_address(f"holder:{i}") for i in range(min(300, 100 + token_count))],
        liquidity_providers=[sim_address(f"lp:{i}") for i in range(8)],
        macro=sim_address("macro:0"),
    )


# --- set-up (automine on, timestamps pinned) ----------------------------------------------


@dataclass
class World:
    """Contracts deployed during set-up."""

    deployer: ChecksumAddress
    weth: ChecksumAddress
    usdc: ChecksumAddress
    dexes: dict[str, Dex]
    executor: ChecksumAddress
    eth_pools: list[Pool]
    records: list[registry.DeploymentSpec]


def _deploy_token(w3: Web3, token: SimToken) -> str:
    if token.contract == "TaxToken":
        args: tuple[Any, ...] = (
            token.name,
            token.symbol,
            token.supply,
            token.treasury,
            token.buy_tax_bps,
            token.sell_tax_bps,
        )
    elif token.contract == "HoneypotToken":
        args = (token.name, token.symbol, token.supply)
    else:
        args = (token.name, token.symbol, token.decimals, token.supply, token.owner)
    return deploy_contract(w3, token.contract, *args, sender=token.owner).address


def set_up_world(
    w3: Web3, node: Node, *, tokens: list[SimToken], accounts: Accounts, rng: random.Random, start: int
) -> World:
    """Deploy WETH, USDC, two DEXes, the executor, every token and the WETH/USDC pools.

    Runs with automine on (the deploy helpers wait for receipts) and the block timestamp
    pinned to ``start`` plus one second per block, so set-up is deterministic too.
    """
    deployer = Web3.to_checksum_address(w3.eth.accounts[0])
    node.call("anvil_autoImpersonateAccount", [True])
    actors = [deployer, *accounts.all()]
    for token in tokens:
        actors += [token.owner, *token.insiders, *token.scenario.actors.get("whales", [])]
    node.batch([("anvil_setBalance", [a, hex(ACCOUNT_BALANCE_WEI)]) for a in actors])
    node.call("evm_setNextBlockTimestamp", [start])
    node.call("anvil_setBlockTimestampInterval", [SETUP_BLOCK_SECONDS])

    records: list[registry.DeploymentSpec] = []

    def record(name: str, kind: str, address: str, metadata: dict[str, Any]) -> None:
        records.append(registry.DeploymentSpec(name, kind, address, w3.eth.block_number, metadata))

    weth = deploy_weth(w3, sender=deployer)
    record("weth", "weth", weth, {"symbol": "WETH", "decimals": 18})
    usdc = deploy_erc20(w3, name="USD Coin", symbol="USDC", supply=USDC_SUPPLY, sender=deployer, decimals=6)
    record("token:USDC", "stablecoin", usdc, {"symbol": "USDC", "decimals": 6, "peg": "USD"})
    dexes: dict[str, Dex] = {}
    for name in DEX_NAMES:
        dex = deploy_dex(w3, weth=weth, sender=deployer, name=name)
        dexes[name] = dex
        meta = {"dex": name, "fee_bps": dex.fee_bps, "init_code_hash": dex.init_code_hash}
        record(f"dex:{name}:factory", "dex_factory", dex.factory, {**meta, "router": dex.router})
        record(f"dex:{name}:router", "dex_router", dex.router, {**meta, "factory": dex.factory})
    executor = deploy_swap_executor(w3, weth=weth, sender=deployer)
    record("executor", "executor", executor, {"weth": weth})
    for token in tokens:
        token.address = _deploy_token(w3, token)
        token.block_number = w3.eth.block_number
        record(
            f"token:{token.symbol}",
            "token",
            token.address,
            {
                "symbol": token.symbol,
                "name": token.name,
                "decimals": token.decimals,
                "contract": token.contract,
                "owner": token.owner,
                "role": token.role,
            },
        )
        for dex_name, quote in token.quotes:
            dex = dexes[dex_name]
            quote_address = weth if quote == "WETH" else usdc
            token.pools.append(
                Pool(
                    name=f"pool:{dex_name}:{token.symbol}-{quote}",
                    dex=dex_name,
                    router=dex.router,
                    address=dex.pair_address(token.address, quote_address),
                    base=token.address,
                    quote=quote_address,
                    fee_bps=dex.fee_bps,
                )
            )

    eth_usd = rng.uniform(2_300, 3_100)
    eth_pools = []
    for name, depth_eth in zip(DEX_NAMES, (4_000, 1_500), strict=True):
        wei = depth_eth * ETHER
        usdc_amount = int(depth_eth * eth_usd * rng.uniform(0.998, 1.002)) * USDC_UNIT
        node.call("anvil_setBalance", [deployer, hex(wei + 10**4 * ETHER)])
        pair = create_pool_with_liquidity(
            w3, dex=dexes[name], token_a=weth, amount_a=wei, token_b=usdc, amount_b=usdc_amount, provider=deployer
        )
        pool = Pool(
            name=f"pool:{name}:WETH-USDC",
            dex=name,
            router=dexes[name].router,
            address=pair,
            base=weth,
            quote=usdc,
            reserve_base=wei,
            reserve_quote=usdc_amount,
            launched=True,
            launch_block=w3.eth.block_number,
        )
        eth_pools.append(pool)
        record(pool.name, "pool", pair, _pool_metadata(pool, base_symbol="WETH", quote_symbol="USDC"))
    node.call("anvil_removeBlockTimestampInterval", [])
    return World(deployer, weth, usdc, dexes, executor, eth_pools, records)


def _pool_metadata(pool: Pool, *, base_symbol: str, quote_symbol: str) -> dict[str, Any]:
    token0, token1 = (pool.base, pool.quote) if pool.base_is_token0 else (pool.quote, pool.base)
    return {
        "dex": pool.dex,
        "fee_bps": pool.fee_bps,
        "token0": token0,
        "token1": token1,
        "base": pool.base,
        "quote": pool.quote,
        "base_symbol": base_symbol,
        "quote_symbol": quote_symbol,
    }


def _usdc_allocations(market: Market, world: World, tokens: list[SimToken], accounts: Accounts) -> list[TxIntent]:
    """USDC for everyone who may trade against USDC (sent in the first history block)."""
    out: list[TxIntent] = []
    grants = [(a, 200_000) for a in accounts.traders + accounts.momentum]
    grants += [(a, 20_000_000) for a in accounts.arbitrageurs] + [(accounts.macro, 500_000_000)]
    grants += [(a, 5_000_000) for a in accounts.liquidity_providers]
    grants += [(t.owner, 2_000_000) for t in tokens if any(q == "USDC" for _, q in t.quotes)]
    market.ledger.add(world.usdc, world.deployer, USDC_SUPPLY)
    for account, whole in grants:
        market.transfer(out, world.usdc, world.deployer, account, whole * USDC_UNIT)
    return out


# --- the run ------------------------------------------------------------------------------


def simulate_market(config: SimulationConfig, *, progress: Callable[[str], None] | None = print) -> SimulationResult:
    """Deploy, simulate ``config.days`` of history, optionally follow in real time.

    Raises :class:`SimulationError` with the reason when the node is missing, too new for
    the requested start time, stops answering, or rejects transactions.
    """
    say = progress or (lambda _msg: None)
    var_dir = Path(config.var_dir or settings.VAR_DIR)
    try:
        w3 = connect(config.rpc_url, timeout=60.0)
    except ConnectionError as exc:
        raise SimulationError(str(exc)) from exc
    node = Node(w3, config.rpc_url)
    chain_id = int(node.call("eth_chainId", []), 16)
    start = config.start_time if config.start_time is not None else default_start_time(config.days)
    end = start + int(config.days * 86_400)
    head = node.latest_block()
    head_time = int(head["timestamp"], 16)
    if head_time >= start:
        raise SimulationError(
            NODE_TOO_NEW.format(
                head=head_time, head_iso=_iso(head_time), start=start, start_iso=_iso(start), suggest=start - 86_400
            )
        )

    rng = random.Random(config.seed)
    tokens = plan_tokens(config.tokens, rng, start + 3600, end)
    accounts = plan_accounts(config.tokens)
    started = time.perf_counter()
    say(f"chain {chain_id}: deploying {config.tokens} tokens, 2 DEXes, WETH, USDC at {_iso(start)}")
    world = set_up_world(w3, node, tokens=tokens, accounts=accounts, rng=rng, start=start)
    if config.record_registry:
        registry.deployments_record(chain_id=chain_id, records=world.records, replace=True)

    feed = SocialFeed(social_feed_path(var_dir, chain_id), rng)
    market = Market(
        rng=rng,
        tokens=tokens,
        accounts=accounts,
        weth=world.weth,
        usdc=world.usdc,
        eth_pools=world.eth_pools,
        routers={name: dex.router for name, dex in world.dexes.items()},
        feed=feed,
        intensity=config.intensity,
        block_seconds=config.block_seconds,
    )
    for token in tokens:
        market.ledger.add(token.address, token.owner, token.supply)

    run = _Run(config=config, node=node, market=market, world=world, say=say)
    pending = _usdc_allocations(market, world, tokens, accounts)
    node.call("evm_setAutomine", [False])
    try:
        head_time = int(node.latest_block()["timestamp"], 16)
        first = (head_time // config.block_seconds + 1) * config.block_seconds
        run.first_block = int(node.latest_block()["number"], 16) + 1
        setup_seconds = time.perf_counter() - started
        say(f"set-up done in {setup_seconds:.1f}s; simulating {config.days:g} days from {_iso(first)}")
        run.history(first, end, pending)
        feed.flush()
        result = run.result(chain_id=chain_id, start=start, end=end, seconds=time.perf_counter() - started)
        result.scenarios_path = _write_ground_truth(run, var_dir, chain_id, start, end)
        result.social_path = feed.path
        if config.record_registry:
            registry.deployments_record(chain_id=chain_id, records=world.records + run.pool_records(), replace=True)
            result.registry_path = registry.deployments_json_path(chain_id=chain_id)
        say(
            f"history done: {result.blocks} blocks, {result.txs} txs in {result.seconds:.1f}s "
            f"({result.txs_per_second:.0f} tx/s), {result.posts} posts, mirror drift {result.mirror_drift}, "
            f"state root {result.state_root}"
        )
        if config.follow:
            run.follow()
            result.scenarios_path = _write_ground_truth(run, var_dir, chain_id, start, end)
    finally:
        feed.close()
        try:
            node.call("evm_setAutomine", [True])
        except SimulationError:
            pass  # the node is gone; the original error says why
    return result


@dataclass
class _Run:
    config: SimulationConfig
    node: Node
    market: Market
    world: World
    say: Callable[[str], None]
    first_block: int = 0
    block: int = 0
    txs: int = 0
    mirror_drift: int = 0
    expected_reverts: list[str] = field(default_factory=list)
    last_time: int = 0

    def __post_init__(self) -> None:
        self.nonces: dict[str, int] = {}
        latest = self.node.latest_block()
        self.gas_budget = int(int(latest["gasLimit"], 16) * GAS_BUDGET_SHARE)
        self.block = int(latest["number"], 16)

    def send(self, batch: list[TxIntent]) -> list[str]:
        """Queue ``batch`` in the mempool with one JSON-RPC batch; returns the hashes.

        Anvil serves batch entries concurrently, so arrival order is not send order. The
        order is pinned by price instead: anvil's default ``--order fees`` mines the
        highest-paying ready transaction first, so each transaction pays one wei less than
        the one before it (nonces keep each sender's own order, consistent with this).
        """
        unknown = sorted({i.sender for i in batch} - self.nonces.keys())
        counts = self.node.batch([("eth_getTransactionCount", [a, "pending"]) for a in unknown])
        self.nonces.update({a: int(c, 16) for a, c in zip(unknown, counts, strict=True)})
        requests_ = []
        top = TX_GAS_PRICE_WEI + len(batch)
        for position, intent in enumerate(batch):
            nonce = self.nonces[intent.sender]
            self.nonces[intent.sender] = nonce + 1
            tx = {
                "from": intent.sender,
                "to": intent.to,
                "data": intent.data,
                "value": hex(intent.value),
                "gas": hex(intent.gas),
                "gasPrice": hex(top - position),
                "nonce": hex(nonce),
            }
            requests_.append(("eth_sendTransaction", [tx]))
        try:
            return [str(h) for h in self.node.batch(requests_)]
        except SimulationError:
            self.nonces.clear()  # a rejected transaction leaves a gap; re-read nonces next time
            raise

    def mine(self, timestamp: int, intents: list[TxIntent]) -> list[TxIntent]:
        """Send what fits in one block, mine it at ``timestamp``; return the carried-over rest."""
        used, count = 0, 0
        for intent in intents:
            if count and used + intent.gas > self.gas_budget:
                break
            used += intent.gas
            count += 1
        batch, rest = intents[:count], intents[count:]
        hashes = self.send(batch)
        self.expected_reverts += [h for h, i in zip(hashes, batch, strict=True) if i.expect_revert]
        self.node.call("evm_mine", [timestamp])
        self.block += 1
        self.txs += len(batch)
        self.last_time = timestamp
        for token in self.market.tokens:
            token.scenario.mark_block(timestamp, self.block)
            for pool in token.pools:
                if pool.launched and pool.launch_block is None:
                    pool.launch_block = self.block
        return rest

    def history(self, first: int, end: int, pending: list[TxIntent]) -> None:
        """Mine one block every ``block_seconds`` from ``first`` to before ``end``."""
        step = self.config.block_seconds
        total_days = max(1, round((end - first) / 86_400))
        wall = time.perf_counter()
        for timestamp in range(first, end, step):
            pending = self.mine(timestamp, pending + self.market.step(timestamp))
            if (timestamp - first) // 86_400 != (timestamp + step - first) // 86_400:
                self.check_mirror()
                self.market.feed.flush()
                day = (timestamp + step - first) // 86_400
                elapsed = time.perf_counter() - wall
                self.say(
                    f"day {day}/{total_days}  block {self.block}  txs {self.txs}  "
                    f"{self.txs / elapsed:.0f} tx/s  posts {self.market.feed.count}"
                )
        while pending:  # whatever the gas limit pushed past the end
            pending = self.mine(self.last_time + 1, pending)
        self.check_mirror()

    def follow(self) -> None:
        """Keep trading in real time, a block every ``follow_block_seconds``, until Ctrl-C."""
        self.say(f"following in real time (a block every {self.config.follow_block_seconds:g}s); Ctrl-C stops")
        pending: list[TxIntent] = []
        try:
            while True:
                time.sleep(self.config.follow_block_seconds)
                timestamp = max(self.last_time + 1, int(time.time()))
                pending = self.mine(timestamp, pending + self.market.step(timestamp))
                self.market.feed.flush()
                if self.block % 20 == 0:
                    self.say(f"live block {self.block}  txs {self.txs}")
        except KeyboardInterrupt:
            self.say("stopped following")

    def check_mirror(self) -> None:
        """Compare every pool's mirrored reserves with the chain; count and fix any drift."""
        pools = [*self.market.eth_pools, *(p for t in self.market.tokens for p in t.pools if p.launched)]
        results = self.node.batch([("eth_call", [{"to": p.address, "data": GET_RESERVES}, "latest"]) for p in pools])
        for pool, raw in zip(pools, results, strict=True):
            reserve0, reserve1 = int(raw[2:66], 16), int(raw[66:130], 16)
            base, quote = (reserve0, reserve1) if pool.base_is_token0 else (reserve1, reserve0)
            if (base, quote) != (pool.reserve_base, pool.reserve_quote):
                self.mirror_drift += 1
                pool.reserve_base, pool.reserve_quote = base, quote

    def pool_records(self) -> list[registry.DeploymentSpec]:
        records = []
        for token in self.market.tokens:
            for pool in token.pools:
                if pool.launch_block is None:
                    continue
                quote_symbol = "WETH" if pool.quote == self.world.weth else "USDC"
                meta = _pool_metadata(pool, base_symbol=token.symbol, quote_symbol=quote_symbol)
                records.append(registry.DeploymentSpec(pool.name, "pool", pool.address, pool.launch_block, meta))
        return records

    def result(self, *, chain_id: int, start: int, end: int, seconds: float) -> SimulationResult:
        latest = self.node.latest_block()
        return SimulationResult(
            chain_id=chain_id,
            start_time=start,
            end_time=end,
            first_block=self.first_block,
            last_block=int(latest["number"], 16),
            blocks=self.block - self.first_block + 1,
            txs=self.txs,
            seconds=seconds,
            state_root=latest["stateRoot"],
            posts=self.market.feed.count,
            mirror_drift=self.mirror_drift,
            expected_reverts=list(self.expected_reverts),
            tokens=[
                {
                    "symbol": t.symbol,
                    "address": t.address,
                    "scenario": t.role,
                    "contract": t.contract,
                    "decimals": t.decimals,
                    "pools": [p.address for p in t.pools if p.launched],
                }
                for t in self.market.tokens
            ],
        )


def _write_ground_truth(run: _Run, var_dir: Path, chain_id: int, start: int, end: int) -> Path:
    rows = []
    for token in run.market.tokens:
        rows.append(
            {
                "token": token.address,
                "symbol": token.symbol,
                "scenario": token.role,
                "contract": token.contract,
                "decimals": token.decimals,
                "pools": [{"name": p.name, "address": p.address, "dex": p.dex} for p in token.pools],
                "phases": [
                    {
                        "phase": p.name,
                        "start_time": p.start,
                        "end_time": p.end,
                        "start_block": p.start_block,
                        "end_block": p.end_block,
                    }
                    for p in token.scenario.phases
                ],
                "actors": token.scenario.actors,
                "tax_bps": {"buy": token.buy_tax_bps, "sell": token.sell_tax_bps} if token.treasury else None,
            }
        )
    return scenarios_write(
        scenarios_file_path(var_dir, chain_id), chain_id=chain_id, seed=run.config.seed, start=start, end=end, rows=rows
    )
