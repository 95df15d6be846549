"""An exact off-chain mirror of Uniswap V2 pools and the holdings the simulator cares about.

Why a mirror: agents decide from prices and balances every few simulated minutes; asking
the node for them would cost a round trip per decision and dominate the run. The mirror
uses the pair's and Router02's integer arithmetic, so as long as transactions are mined in
the order they were queued it stays exact; the engine re-reads every pool's reserves once
per simulated day and counts any drift.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

MINIMUM_LIQUIDITY = 1_000  # LP base units the pair locks forever on the first mint


def amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """``UniswapV2Library.getAmountOut``: output for ``amount_in`` after the fee (base units)."""
    if amount_in <= 0 or reserve_in <= 0 or reserve_out <= 0:
        return 0
    with_fee = amount_in * (10_000 - fee_bps)
    return with_fee * reserve_out // (reserve_in * 10_000 + with_fee)


@dataclass
class Pool:
    """One V2 pair as seen by the simulator: ``base`` is the traded token, ``quote`` WETH or USDC.

    Reserves are base units; ``lp_supply`` is the pair's LP ``totalSupply`` (0 until launch).
    """

    name: str
    dex: str
    router: str
    address: str
    base: str
    quote: str
    fee_bps: int = 30
    reserve_base: int = 0
    reserve_quote: int = 0
    lp_supply: int = 0
    launched: bool = False
    launch_block: int | None = None

    @property
    def base_is_token0(self) -> bool:
        return int(self.base, 16) < int(self.quote, 16)

    def price(self) -> float:
        """Quote base units per base base unit (scale by decimals for a human price)."""
        if self.reserve_base == 0:
            return 0.0
        return self.reserve_quote / self.reserve_base

    def buy(self, quote_in: int) -> int:
        """Apply a buy of base with ``quote_in`` (what reached the pair); return base sent out."""
        out = amount_out(quote_in, self.reserve_quote, self.reserve_base, self.fee_bps)
        self.reserve_quote += quote_in
        self.reserve_base -= out
        return out

    def sell(self, base_in: int) -> int:
        """Apply a sell of ``base_in`` (what reached the pair); return quote sent out."""
        out = amount_out(base_in, self.reserve_base, self.reserve_quote, self.fee_bps)
        self.reserve_base += base_in
        self.reserve_quote -= out
        return out

    def add_liquidity(self, base_desired: int, quote_desired: int) -> tuple[int, int, int]:
        """Router02 ``_addLiquidity`` + pair ``mint``; returns (base used, quote used, LP minted)."""
        if self.lp_supply == 0:
            base, quote = base_desired, quote_desired
            minted = math.isqrt(base * quote) - MINIMUM_LIQUIDITY
            self.lp_supply = math.isqrt(base * quote)
        else:
            quote_optimal = base_desired * self.reserve_quote // self.reserve_base
            if quote_optimal <= quote_desired:
                base, quote = base_desired, quote_optimal
            else:
                base, quote = quote_desired * self.reserve_base // self.reserve_quote, quote_desired
            minted = min(base * self.lp_supply // self.reserve_base, quote * self.lp_supply // self.reserve_quote)
            self.lp_supply += minted
        self.reserve_base += base
        self.reserve_quote += quote
        return base, quote, minted

    def remove_liquidity(self, liquidity: int) -> tuple[int, int]:
        """Pair ``burn`` of ``liquidity`` LP units; returns (base out, quote out)."""
        base = liquidity * self.reserve_base // self.lp_supply
        quote = liquidity * self.reserve_quote // self.lp_supply
        self.lp_supply -= liquidity
        self.reserve_base -= base
        self.reserve_quote -= quote
        return base, quote


@dataclass
class Ledger:
    """ERC-20 balances (tokens, USDC, LP tokens) of simulated accounts, in base units.

    ETH is not tracked: every simulated account is funded far beyond what it can spend.
    """

    balances: defaultdict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))

    def get(self, token: str, holder: str) -> int:
        return self.balances.get((token, holder), 0)

    def add(self, token: str, holder: str, amount: int) -> None:
        self.balances[(token, holder)] += amount

    def sub(self, token: str, holder: str, amount: int) -> None:
        self.balances[(token, holder)] -= amount
