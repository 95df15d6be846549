"""The simulated market: tokens, pools, accounts and the agents that trade them.

:class:`Market` decides, one block at a time, what every agent does and turns it into
transactions (:class:`TxIntent`), updating its exact pool/balance mirror
(:mod:`chain.simulator.amm`) as it goes. It never talks to the node, and its only source
of randomness is the seeded ``random.Random`` it is given, so the same seed and timeline
give the same transactions.

Units: token amounts are base units (``10**decimals`` per token), ETH amounts wei, prices
in the docstrings are "quote base units per base base unit" unless they say USD.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

from eth_utils import keccak, to_checksum_address

from chain.simulator import calldata
from chain.simulator.amm import Ledger, Pool
from chain.simulator.scenarios import Scenario
from chain.simulator.social import SocialFeed

ETHER = 10**18
USDC_UNIT = 10**6

GAS_SWAP = 350_000  # per-transaction gas limits: only gas used is paid, but the block
GAS_TRANSFER = 90_000  # builder packs by these limits, so they bound a step's size
GAS_APPROVE = 70_000
GAS_LIQUIDITY = 400_000
GAS_LAUNCH = 5_000_000  # createPair inside addLiquidity deploys a pair contract
GAS_OWNER_CALL = 120_000

SECONDS_PER_HOUR = 3600

# Per scenario phase: (popularity multiplier, probability a noise trade is a buy).
PHASE_FLOW: dict[str, tuple[float, float]] = {
    "trading": (1.0, 0.52),
    "launch": (1.2, 0.75),
    "dead": (0.0, 0.2),
    "accumulation": (0.5, 0.4),
    "rally": (7.0, 0.82),
    "distribution": (2.0, 0.38),
    "hype": (2.5, 0.68),
    "pump": (14.0, 0.92),
    "dump": (3.0, 0.1),
    "rug": (0.3, 0.2),
    "aftermath": (0.15, 0.15),
    "trap": (2.0, 0.8),
    "drain": (0.5, 0.3),
    "mint": (1.0, 0.4),
}
# Per phase: (posts per hour at popularity 1, tone weights positive/neutral/negative/hype/honeypot).
PHASE_SOCIAL: dict[str, tuple[float, tuple[float, float, float, float, float]]] = {
    "trading": (0.25, (0.35, 0.45, 0.2, 0.0, 0.0)),
    "launch": (0.8, (0.6, 0.3, 0.05, 0.05, 0.0)),
    "dead": (0.03, (0.0, 0.4, 0.6, 0.0, 0.0)),
    "accumulation": (0.08, (0.2, 0.7, 0.1, 0.0, 0.0)),
    "rally": (1.5, (0.55, 0.1, 0.05, 0.3, 0.0)),
    "distribution": (0.8, (0.3, 0.3, 0.4, 0.0, 0.0)),
    "hype": (2.0, (0.4, 0.05, 0.0, 0.55, 0.0)),
    "pump": (4.0, (0.3, 0.0, 0.05, 0.65, 0.0)),
    "dump": (3.0, (0.0, 0.1, 0.9, 0.0, 0.0)),
    "rug": (3.0, (0.0, 0.0, 1.0, 0.0, 0.0)),
    "aftermath": (0.5, (0.0, 0.2, 0.8, 0.0, 0.0)),
    "trap": (0.9, (0.45, 0.1, 0.05, 0.2, 0.2)),
    "drain": (2.0, (0.0, 0.0, 0.5, 0.0, 0.5)),
    "mint": (1.0, (0.05, 0.25, 0.7, 0.0, 0.0)),
}
TONES = ("positive", "neutral", "negative", "hype", "honeypot")

SYLLABLES = ("ZO", "KA", "MO", "PE", "RI", "TA", "NU", "LO", "BI", "GA", "FE", "XO", "DU", "SHI", "BA", "QU")
NAME_WORDS = ("Moon", "Frog", "Doge", "Rocket", "Cat", "Pixel", "Nova", "Turbo", "Lunar", "Chad", "Hyper", "Meme")


def sim_address(label: str) -> str:
    """A deterministic address for a simulated actor (the node signs for it by impersonation)."""
    return to_checksum_address(keccak(text=f"tmsite-sim:{label}")[12:])


@dataclass(slots=True)
class TxIntent:
    """A transaction the market wants sent this block (gas is a limit, in gas units)."""

    sender: str
    to: str
    data: str
    value: int = 0
    gas: int = GAS_SWAP
    expect_revert: bool = False
    label: str = ""


@dataclass
class SimToken:
    """A token of the simulated market and its script."""

    index: int
    symbol: str
    name: str
    contract: str  # artifact: SimpleToken, TaxToken, HoneypotToken or MintableToken
    decimals: int
    supply: int  # base units at deploy (mints add to it)
    owner: str
    scenario: Scenario
    popularity: float
    liquidity_eth: float  # ETH-equivalent value put on each side of the launch pools
    quotes: list[tuple[str, str]]  # (dex name, "WETH" | "USDC") pools created at launch
    distribution: str  # "broad" or "concentrated"
    address: str = ""
    block_number: int = 0
    treasury: str | None = None
    buy_tax_bps: int = 0
    sell_tax_bps: int = 0
    pools: list[Pool] = field(default_factory=list)
    insiders: list[str] = field(default_factory=list)
    launched: bool = False
    price_history: deque[float] = field(default_factory=lambda: deque(maxlen=12))

    @property
    def role(self) -> str:
        return self.scenario.kind


def token_symbols(count: int, rng: random.Random) -> list[tuple[str, str]]:
    """``count`` unique (symbol, name) pairs such as ("ZOKA", "Turbo Frog")."""
    seen: set[str] = {"USDC", "WETH", "ETH"}
    result = []
    while len(result) < count:
        symbol = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3))))[:6]
        if symbol in seen:
            continue
        seen.add(symbol)
        result.append((symbol, f"{rng.choice(NAME_WORDS)} {rng.choice(NAME_WORDS)}"))
    return result


def part(amount: int, fraction: float) -> int:
    """``fraction`` (0-1) of an integer amount without float rounding above ``amount``.

    ``int(amount * 1.0)`` can exceed ``amount`` for values beyond 2**53 (token balances
    often are), and selling one base unit more than held reverts the whole transaction.
    """
    return amount * int(fraction * 1_000_000) // 1_000_000


def _poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw (Knuth), fine for the small rates used per block."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


@dataclass
class Accounts:
    """Addresses of the simulated actors, grouped by behaviour."""

    traders: list[str]
    momentum: list[str]
    arbitrageurs: list[str]
    holders: list[str]
    liquidity_providers: list[str]
    macro: str

    def all(self) -> list[str]:
        return [*self.traders, *self.momentum, *self.arbitrageurs, *self.holders, *self.liquidity_providers, self.macro]


class Market:
    """Agents and scenario scripts; :meth:`step` returns one block's transactions."""

    def __init__(
        self,
        *,
        rng: random.Random,
        tokens: list[SimToken],
        accounts: Accounts,
        weth: str,
        usdc: str,
        eth_pools: list[Pool],
        routers: dict[str, str],
        feed: SocialFeed,
        intensity: float,
        block_seconds: int,
    ) -> None:
        self.rng = rng
        self.tokens = tokens
        self.accounts = accounts
        self.weth = weth
        self.usdc = usdc
        self.eth_pools = eth_pools  # WETH/USDC, the first sets the ETH price, the rest follow
        self.routers = routers  # dex name -> router address
        self.feed = feed
        self.intensity = intensity
        self.block_seconds = block_seconds
        self.ledger = Ledger()
        self.approved: set[tuple[str, str, str]] = set()
        self.holdings: dict[str, set[str]] = {}  # token -> accounts that may hold it
        self.eth_target = self.eth_usd()
        self.token_by_address = {t.address: t for t in tokens}
        self.launch_blocks: dict[str, int] = {}
        self.expected_reverts = 0

    # --- prices -----------------------------------------------------------------------

    def eth_usd(self) -> float:
        """ETH price in USD from the reference WETH/USDC pool."""
        pool = self.eth_pools[0]
        return pool.price() * ETHER / USDC_UNIT

    def quote_usd(self, quote: str) -> float:
        """USD value of one base unit of a quote asset (wei or USDC micro-unit)."""
        return self.eth_usd() / ETHER if quote == self.weth else 1 / USDC_UNIT

    def pool_usd_price(self, pool: Pool) -> float:
        """USD per base unit of ``pool.base``."""
        return pool.price() * self.quote_usd(pool.quote)

    def pool_depth_eth(self, pool: Pool) -> float:
        """Quote-side reserve of ``pool`` in ETH."""
        return pool.reserve_quote * self.quote_usd(pool.quote) / self.eth_usd()

    def eth_to_quote(self, eth: float, quote: str) -> int:
        """``eth`` ETH expressed in base units of ``quote``."""
        return int(eth * ETHER) if quote == self.weth else int(eth * self.eth_usd() * USDC_UNIT)

    # --- primitive actions (each returns intents and updates the mirror) -----------------

    def _approve(self, out: list[TxIntent], token: str, owner: str, spender: str) -> None:
        key = (token, owner, spender)
        if key not in self.approved:
            self.approved.add(key)
            out.append(TxIntent(owner, token, calldata.approve(spender), gas=GAS_APPROVE, label="approve"))

    def _hold(self, token: str, holder: str) -> None:
        self.holdings.setdefault(token, set()).add(holder)

    def swap(self, out: list[TxIntent], trader: str, pool: Pool, token_in: str, amount_in: int) -> int:
        """Swap ``amount_in`` of ``token_in`` through ``pool``'s router; ETH stands for WETH.

        Taxed tokens lose their tax on the way in (sell) or out (buy), as TaxToken does; a
        honeypot sell by anyone but the owner is sent anyway and marked as expected to
        revert, leaving the mirror unchanged. Returns what ``trader`` receives (base units).
        """
        if amount_in <= 0 or not pool.launched:
            return 0
        token_out = pool.quote if token_in == pool.base else pool.base
        router = pool.router
        path = [token_in, token_out]
        if token_in == self.weth:
            data, value = calldata.swap_eth_for_tokens(path, trader), amount_in
        else:
            self._approve(out, token_in, trader, router)
            value = 0
            if token_out == self.weth:
                data = calldata.swap_tokens_for_eth(amount_in, path, trader)
            else:
                data = calldata.swap_tokens_for_tokens(amount_in, path, trader)
        token = self.token_by_address.get(pool.base)
        is_buy = token_in == pool.quote
        if token is not None and token.contract == "HoneypotToken" and not is_buy and trader != token.owner:
            out.append(TxIntent(trader, router, data, value, GAS_SWAP, expect_revert=True, label="honeypot-sell"))
            self.expected_reverts += 1
            return 0
        out.append(TxIntent(trader, router, data, value, GAS_SWAP, label="swap"))
        if token_in != self.weth:
            self.ledger.sub(token_in, trader, amount_in)
        taxed = token is not None and token.treasury is not None and trader != token.owner
        if is_buy:
            received = pool.buy(amount_in)
            if taxed and token is not None:
                tax = received * token.buy_tax_bps // 10_000
                self.ledger.add(pool.base, token.treasury or "", tax)
                received -= tax
        else:
            reaching = amount_in
            if taxed and token is not None:
                tax = amount_in * token.sell_tax_bps // 10_000
                reaching -= tax
            received = pool.sell(reaching)
        if token_out != self.weth:
            self.ledger.add(token_out, trader, received)
            self._hold(token_out, trader)
        return received

    def buy_eth_worth(self, out: list[TxIntent], trader: str, pool: Pool, eth: float) -> None:
        """Buy ``pool.base`` for ``eth`` ETH worth of the pool's quote asset."""
        amount = self.eth_to_quote(eth, pool.quote)
        if pool.quote != self.weth:
            amount = min(amount, self.ledger.get(pool.quote, trader))
        self.swap(out, trader, pool, pool.quote, amount)

    def sell_fraction(self, out: list[TxIntent], trader: str, pool: Pool, fraction: float) -> None:
        """Sell ``fraction`` (0-1] of ``trader``'s booked balance of ``pool.base``."""
        amount = part(self.ledger.get(pool.base, trader), fraction)
        self.swap(out, trader, pool, pool.base, amount)

    def transfer(self, out: list[TxIntent], token: str, sender: str, to: str, amount: int) -> None:
        """Plain ERC-20 transfer (untaxed: TaxToken only taxes transfers touching a pair)."""
        if amount <= 0:
            return
        out.append(TxIntent(sender, token, calldata.transfer(to, amount), gas=GAS_TRANSFER, label="transfer"))
        self.ledger.sub(token, sender, amount)
        self.ledger.add(token, to, amount)
        self._hold(token, to)

    def add_liquidity(
        self, out: list[TxIntent], provider: str, pool: Pool, base_amount: int, quote_amount: int
    ) -> None:
        """Router ``addLiquidity(ETH)``; creates the pair on a pool's first add (a launch)."""
        self._approve(out, pool.base, provider, pool.router)
        gas = GAS_LIQUIDITY if pool.launched else GAS_LAUNCH
        if pool.quote == self.weth:
            data = calldata.add_liquidity_eth(pool.base, base_amount, provider)
            out.append(TxIntent(provider, pool.router, data, quote_amount, gas, label="add-liquidity"))
        else:
            self._approve(out, pool.quote, provider, pool.router)
            data = calldata.add_liquidity(pool.base, pool.quote, base_amount, quote_amount, provider)
            out.append(TxIntent(provider, pool.router, data, 0, gas, label="add-liquidity"))
        base_used, quote_used, minted = pool.add_liquidity(base_amount, quote_amount)
        pool.launched = True
        self.ledger.sub(pool.base, provider, base_used)
        if pool.quote != self.weth:
            self.ledger.sub(pool.quote, provider, quote_used)
        self.ledger.add(pool.address, provider, minted)

    def remove_liquidity(self, out: list[TxIntent], provider: str, pool: Pool, fraction: float) -> None:
        """Router ``removeLiquidity(ETH)`` of ``fraction`` of the provider's LP tokens."""
        liquidity = part(self.ledger.get(pool.address, provider), fraction)
        if liquidity <= 0:
            return
        self._approve(out, pool.address, provider, pool.router)
        if pool.quote == self.weth:
            data = calldata.remove_liquidity_eth(pool.base, liquidity, provider)
        else:
            data = calldata.remove_liquidity(pool.base, pool.quote, liquidity, provider)
        out.append(TxIntent(provider, pool.router, data, 0, GAS_LIQUIDITY, label="remove-liquidity"))
        base, quote = pool.remove_liquidity(liquidity)
        self.ledger.sub(pool.address, provider, liquidity)
        self.ledger.add(pool.base, provider, base)
        if pool.quote != self.weth:
            self.ledger.add(pool.quote, provider, quote)

    # --- scenario scripts ---------------------------------------------------------------

    def launch(self, out: list[TxIntent], token: SimToken, timestamp: int) -> None:
        """Create the token's pools with the owner's liquidity and hand out its supply."""
        rng = self.rng
        owner = token.owner
        balance = self.ledger.get(token.address, owner)
        pool_share = rng.uniform(0.3, 0.55)
        per_pool_tokens = part(balance, pool_share) // len(token.pools)
        for pool in token.pools:
            quote_amount = self.eth_to_quote(token.liquidity_eth * rng.uniform(0.6, 1.0), pool.quote)
            if pool.quote != self.weth:
                quote_amount = min(quote_amount, self.ledger.get(pool.quote, owner))
            self.add_liquidity(out, owner, pool, per_pool_tokens, quote_amount)
            if token.contract in ("TaxToken", "HoneypotToken"):
                data = calldata.set_pair(pool.address)
                out.append(TxIntent(owner, token.address, data, gas=GAS_OWNER_CALL, label="set-pair"))
        token.launched = True
        remaining = self.ledger.get(token.address, owner)
        holders = self.accounts.holders
        if token.distribution == "broad":
            recipients = rng.sample(holders, min(len(holders), rng.randint(25, 70)))
            share = remaining * rng.uniform(0.3, 0.6)
        else:
            recipients = rng.sample(holders, min(len(holders), rng.randint(2, 5)))
            share = remaining * rng.uniform(0.1, 0.25)
        weights = [rng.paretovariate(1.3) for _ in recipients]
        total = sum(weights)
        for recipient, weight in zip(recipients, weights, strict=True):
            self.transfer(out, token.address, owner, recipient, int(share * weight / total))
        if token.role == ORGANIC_ROLE or token.role == "mintable":
            for provider in rng.sample(self.accounts.liquidity_providers, 2):
                self.transfer(out, token.address, owner, provider, remaining // 50)
        if token.role == "pump_dump":  # insiders snipe the launch
            for insider in token.insiders:
                self.buy_eth_worth(out, insider, token.pools[0], token.liquidity_eth * rng.uniform(0.05, 0.12))

    def scripted(self, out: list[TxIntent], token: SimToken, phase: str, phase_start: bool, timestamp: int) -> None:
        """The non-noise part of a scenario phase: whales, insiders, rugs, mints, drains."""
        rng = self.rng
        main = token.pools[0]
        owner = token.owner
        if phase == "accumulation":
            whales = token.scenario.actors.get("whales", [])
            steps = max(1, (token.scenario.phase_at(timestamp).end - token.scenario.phase_at(timestamp).start))  # type: ignore[union-attr]
            buys_expected = steps / self.block_seconds * len(whales) * 0.3
            for whale in whales:
                if rng.random() < 0.3:
                    eth = token.liquidity_eth * 0.9 / max(buys_expected, 1.0) * rng.uniform(0.5, 1.5)
                    self.buy_eth_worth(out, whale, main, eth)
        elif phase == "distribution":
            for whale in token.scenario.actors.get("whales", []):
                if rng.random() < 0.08:
                    self.sell_fraction(out, whale, main, rng.uniform(0.1, 0.3))
        elif phase == "dump":
            for insider in [owner, *token.insiders]:
                if rng.random() < 0.5:
                    self.sell_fraction(out, insider, main, rng.uniform(0.3, 0.7))
        elif phase == "rug" and phase_start:
            for pool in token.pools:
                self.remove_liquidity(out, owner, pool, rng.uniform(0.92, 0.98))
        elif phase == "drain":
            if rng.random() < 0.3:
                self.sell_fraction(out, owner, main, 0.4)
        elif phase == "mint":
            if phase_start:
                minted = token.supply * rng.randint(8, 25) // 100
                out.append(
                    TxIntent(owner, token.address, calldata.mint(owner, minted), gas=GAS_OWNER_CALL, label="mint")
                )
                self.ledger.add(token.address, owner, minted)
                token.supply += minted
            elif rng.random() < 0.15:
                self.sell_fraction(out, owner, main, 0.1)

    # --- agents -------------------------------------------------------------------------

    def _flow(self, token: SimToken, timestamp: int) -> tuple[str | None, float, float]:
        phase = token.scenario.phase_at(timestamp)
        if phase is None or not token.launched:
            return None, 0.0, 0.5
        weight, buy_bias = PHASE_FLOW.get(phase.name, (1.0, 0.5))
        return phase.name, token.popularity * weight, buy_bias

    def _pick_pool(self, token: SimToken) -> Pool:
        pools = [p for p in token.pools if p.launched and p.reserve_quote > 0]
        if len(pools) == 1:
            return pools[0]
        return self.rng.choices(pools, weights=[max(self.pool_depth_eth(p), 1e-9) for p in pools])[0]

    def _trade_size_eth(self, pool: Pool, scale: float = 1.0) -> float:
        """Lognormal ticket (median ~0.25 ETH) capped to a few % of the pool's depth."""
        size = self.rng.lognormvariate(math.log(0.25), 1.1) * scale
        return max(0.001, min(size, self.pool_depth_eth(pool) * 0.04 * scale))

    def noise_trade(self, out: list[TxIntent], token: SimToken, buy_bias: float) -> None:
        rng = self.rng
        trader = rng.choice(self.accounts.traders)
        pool = self._pick_pool(token)
        holding = self.ledger.get(token.address, trader)
        if holding > 0 and rng.random() > buy_bias:
            self.sell_fraction(out, trader, pool, rng.uniform(0.25, 1.0))
        elif rng.random() < buy_bias or holding == 0:
            self.buy_eth_worth(out, trader, pool, self._trade_size_eth(pool))

    def momentum_trade(self, out: list[TxIntent], active: list[SimToken]) -> None:
        rng = self.rng
        token = rng.choice(active)
        if len(token.price_history) < 6 or token.price_history[0] <= 0:
            return
        change = token.price_history[-1] / token.price_history[0] - 1
        trader = rng.choice(self.accounts.momentum)
        pool = self._pick_pool(token)
        if change > 0.08:
            self.buy_eth_worth(out, trader, pool, self._trade_size_eth(pool, 2.0))
        elif change < -0.08 and self.ledger.get(token.address, trader) > 0:
            self.sell_fraction(out, trader, pool, 1.0)

    def arbitrage(self, out: list[TxIntent], pools: list[Pool], threshold: float = 0.008) -> None:
        """Buy on the cheapest pool of a token and sell the output on the dearest.

        Prices are compared in USD so a WETH pool and a USDC pool of the same token are
        arbitraged too; the buy is sized to move the cheap pool about to the mean price.
        """
        live = [p for p in pools if p.launched and p.reserve_base > 0 and p.reserve_quote > 0]
        if len(live) < 2:
            return
        prices = [self.pool_usd_price(p) for p in live]
        cheap, dear = live[prices.index(min(prices))], live[prices.index(max(prices))]
        low, high = min(prices), max(prices)
        if high / low - 1 < threshold:
            return
        target = math.sqrt(low * high) / self.quote_usd(cheap.quote)  # quote units per base unit
        k = cheap.reserve_base * cheap.reserve_quote
        quote_in = int((math.sqrt(k * target) - cheap.reserve_quote) / 0.997)
        if quote_in <= 0:
            return
        arber = self.rng.choice(self.accounts.arbitrageurs)
        if cheap.quote != self.weth:
            quote_in = min(quote_in, self.ledger.get(cheap.quote, arber))
        received = self.swap(out, arber, cheap, cheap.quote, quote_in)
        self.swap(out, arber, dear, dear.base, received)

    def move_eth_price(self, out: list[TxIntent]) -> None:
        """A macro flow trader walks the reference WETH/USDC pool along a random walk.

        Log-price volatility ~3.5%/day with a gentle pull back into $2,000-3,500.
        """
        rng = self.rng
        steps_per_day = 86_400 / self.block_seconds
        drift = 0.0
        if self.eth_target < 2_100:
            drift = 0.02 / steps_per_day
        elif self.eth_target > 3_400:
            drift = -0.02 / steps_per_day
        self.eth_target *= math.exp(drift + rng.gauss(0, 0.035 / math.sqrt(steps_per_day)))
        pool = self.eth_pools[0]
        current = self.eth_usd()
        if abs(current / self.eth_target - 1) < 0.0005:
            return
        k = pool.reserve_base * pool.reserve_quote
        target_price = self.eth_target * USDC_UNIT / ETHER  # USDC units per wei
        macro = self.accounts.macro
        if self.eth_target > current:  # buy ETH with USDC
            usdc_in = int((math.sqrt(k * target_price) - pool.reserve_quote) / 0.997)
            self.swap(out, macro, pool, self.usdc, min(usdc_in, self.ledger.get(self.usdc, macro)))
        else:  # sell ETH for USDC
            wei_in = int((math.sqrt(k / target_price) - pool.reserve_base) / 0.997)
            self.swap(out, macro, pool, self.weth, wei_in)

    def wallet_transfer(self, out: list[TxIntent], active: list[SimToken]) -> None:
        """An ordinary transfer between wallets (gifts, exchange deposits, wallet moves)."""
        rng = self.rng
        token = rng.choice(active)
        holders = self.holdings.get(token.address)
        if not holders:
            return
        sender = rng.choice(sorted(holders))
        amount = part(self.ledger.get(token.address, sender), rng.uniform(0.05, 0.5))
        to = rng.choice(self.accounts.holders + self.accounts.traders)
        if to != sender:
            self.transfer(out, token.address, sender, to, amount)

    def liquidity_event(self, out: list[TxIntent], active: list[SimToken]) -> None:
        """A liquidity provider adds to or withdraws from an organic pool (Mint/Burn events)."""
        rng = self.rng
        candidates = [t for t in active if t.role in (ORGANIC_ROLE, "mintable")]
        if not candidates:
            return
        token = rng.choice(candidates)
        pool = self._pick_pool(token)
        provider = rng.choice(self.accounts.liquidity_providers)
        if self.ledger.get(pool.address, provider) > 0 and rng.random() < 0.4:
            self.remove_liquidity(out, provider, pool, rng.uniform(0.3, 1.0))
            return
        quote_amount = self.eth_to_quote(self.pool_depth_eth(pool) * rng.uniform(0.01, 0.06), pool.quote)
        if pool.quote != self.weth:
            quote_amount = min(quote_amount, self.ledger.get(pool.quote, provider))
        base_needed = quote_amount * pool.reserve_base // max(pool.reserve_quote, 1)
        held = self.ledger.get(token.address, provider)
        if base_needed <= 0 or quote_amount <= 0:
            return
        if held < base_needed:
            quote_amount = quote_amount * held // base_needed
            base_needed = held
        if quote_amount > 0 and base_needed > 0:
            self.add_liquidity(out, provider, pool, base_needed, quote_amount)

    # --- social -------------------------------------------------------------------------

    def post_hour(self, timestamp: int) -> None:
        """Posts about each live token for the hour starting at ``timestamp``."""
        rng = self.rng
        for token in self.tokens:
            phase = token.scenario.phase_at(timestamp)
            if phase is None:
                # Pre-launch teasers for pump-and-dumps: the hype starts before the pool does.
                if token.role == "pump_dump" and 0 < token.scenario.launch - timestamp <= 12 * SECONDS_PER_HOUR:
                    for _ in range(_poisson(rng, 1.0)):
                        self._post(token, "hype", timestamp)
                continue
            rate, tones = PHASE_SOCIAL.get(phase.name, PHASE_SOCIAL["trading"])
            popularity = min(token.popularity, 3.0) if phase.name in ("trading", "dead") else 1.0
            for _ in range(_poisson(rng, rate * popularity)):
                self._post(token, rng.choices(TONES, weights=tones)[0], timestamp)

    def _post(self, token: SimToken, tone: str, timestamp: int) -> None:
        self.feed.post(symbol=token.symbol, token=token.address, tone=tone, start=timestamp, span=SECONDS_PER_HOUR)

    # --- one block ----------------------------------------------------------------------

    def step(self, timestamp: int) -> list[TxIntent]:
        """All transactions for the block at ``timestamp`` (unix seconds), in send order."""
        rng = self.rng
        out: list[TxIntent] = []
        previous = timestamp - self.block_seconds
        if timestamp % SECONDS_PER_HOUR < self.block_seconds:
            self.post_hour(timestamp - timestamp % SECONDS_PER_HOUR)
            for token in self.tokens:
                if token.launched:
                    pool = token.pools[0]
                    token.price_history.append(self.pool_usd_price(pool))
        self.move_eth_price(out)
        for token in self.tokens:
            if not token.launched and token.scenario.launch <= timestamp:
                self.launch(out, token, timestamp)
        hour = (timestamp % 86_400) / 3600
        diurnal = 1.0 + 0.5 * math.sin((hour - 9) / 24 * 2 * math.pi)  # busiest around 15:00 UTC
        active: list[SimToken] = []
        weights: list[float] = []
        bias: dict[str, float] = {}
        for token in self.tokens:
            name, weight, buy_bias = self._flow(token, timestamp)
            if name is None:
                continue
            phase = token.scenario.phase_at(timestamp)
            started = phase is not None and previous < phase.start
            self.scripted(out, token, name, started, timestamp)
            if weight > 0:
                active.append(token)
                weights.append(weight)
                bias[token.address] = buy_bias
        if active:
            rate = self.intensity * self.block_seconds / 300  # the rates below are per 5 minutes
            for _ in range(_poisson(rng, 3.2 * rate * diurnal)):
                token = rng.choices(active, weights=weights)[0]
                self.noise_trade(out, token, bias[token.address])
            for _ in range(_poisson(rng, 0.5 * rate * diurnal)):
                self.momentum_trade(out, active)
            for _ in range(_poisson(rng, 0.9 * rate)):
                self.wallet_transfer(out, active)
            if rng.random() < 0.05 * rate:
                self.liquidity_event(out, active)
        self.arbitrage(out, self.eth_pools, threshold=0.004)
        for token in active:
            if token.contract == "SimpleToken" or token.contract == "MintableToken":
                self.arbitrage(out, token.pools)
        return out


ORGANIC_ROLE = "organic"
