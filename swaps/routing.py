"""Route finding over Uniswap V2-style pools, in integer base units, exactly as the pairs pay.

Pure functions (no database, no RPC), so the quote hot path and the benchmark share them:

* :func:`amount_out` is the pair's formula with the DEX's fee in basis points; for the
  Uniswap V2 fee (30 bps) it equals ``UniswapV2Library.getAmountOut`` to the unit.
* :func:`candidate_paths` lists direct pools and paths through one or two connectors
  (WETH and the stablecoins): ``A-B``, ``A-C-B``, ``A-C1-C2-B``. A path's pools must share
  one fee, because the executor charges one ``feeBps`` per fill.
* :func:`route_best` compares the best single path, a ternary-searched split between the two
  best pool-disjoint paths, and a greedy split in chunks over the best few paths (which also
  handles paths that share a pool), net of the extra gas a split costs, and returns the one
  that pays most. Every route is re-evaluated fill by fill in execution order, so the
  quoted output is what the executor or router will compute at those reserves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

BPS = 10_000

# Gas model for comparing routes (units of gas, measured on anvil with eth_estimateGas for
# Uniswap V2 Router02 and SwapExecutor; the built transaction is estimated for real).
ROUTER_GAS_BASE = 95_000  # one-hop router swap, ERC-20 in and out
EXECUTOR_GAS_BASE = 80_000  # executor call overhead before its first fill
GAS_PER_FILL = 45_000  # transferFrom into the first pair of a fill, plus bookkeeping
GAS_PER_HOP = 62_000  # one more pair swap along a path

SPLIT_CHUNKS = 20  # greedy split granularity: 5% of the amount per step
SPLIT_CANDIDATES = 4  # best single paths considered for a split
TERNARY_STEPS = 200  # integer ternary search iterations: (2/3)**200 * 2**112 < 1, so it always converges


class NoRoute(Exception):
    """No pool path with liquidity joins the two tokens."""


@dataclass(frozen=True)
class PoolInfo:
    """One pool as the router sees it; reserves are base units at ``block``."""

    address: str
    dex: str
    router: str
    fee_bps: int
    token0: str
    token1: str
    reserve0: int
    reserve1: int
    block: int | None = None

    def other(self, token: str) -> str:
        return self.token1 if token == self.token0 else self.token0


@dataclass(frozen=True)
class Hop:
    pool: PoolInfo
    token_in: str
    token_out: str


@dataclass(frozen=True)
class Path:
    hops: tuple[Hop, ...]

    @property
    def fee_bps(self) -> int:
        return self.hops[0].pool.fee_bps

    @property
    def dexes(self) -> frozenset[str]:
        return frozenset(h.pool.dex for h in self.hops)

    @property
    def pools(self) -> tuple[str, ...]:
        return tuple(h.pool.address for h in self.hops)

    @property
    def tokens(self) -> list[str]:
        return [self.hops[0].token_in] + [h.token_out for h in self.hops]

    def label(self) -> str:
        return " > ".join(f"{h.pool.dex}:{h.pool.address[:8]}" for h in self.hops)


@dataclass(frozen=True)
class Fill:
    """``amount_in`` of the route's input sent down ``path``; ``amount_out`` as quoted."""

    path: Path
    amount_in: int
    amount_out: int


@dataclass(frozen=True)
class Route:
    fills: tuple[Fill, ...]
    amount_in: int
    amount_out: int
    gas: int
    kind: str  # "single" or "split"
    mid_out: Decimal = field(default=Decimal(0))  # output at mid price, after LP fees, before impact

    @property
    def single_dex(self) -> str | None:
        """The DEX name if a router can execute this route (one fill, one DEX), else None."""
        if len(self.fills) == 1 and len(self.fills[0].path.dexes) == 1:
            return next(iter(self.fills[0].path.dexes))
        return None

    @property
    def price_impact_bps(self) -> int:
        """Shortfall of the output against the mid price (LP fees excluded), in bps."""
        if self.mid_out <= 0:
            return 0
        impact = (self.mid_out - Decimal(self.amount_out)) * BPS / self.mid_out
        return max(0, int(impact.to_integral_value()))


def amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int) -> int:
    """Output of one V2 swap for ``amount_in``; 0 for no input or no liquidity."""
    if amount_in <= 0 or reserve_in <= 0 or reserve_out <= 0:
        return 0
    with_fee = amount_in * (BPS - fee_bps)
    return (with_fee * reserve_out) // (reserve_in * BPS + with_fee)


def amount_in_for(amount_out_: int, reserve_in: int, reserve_out: int, fee_bps: int) -> int:
    """Smallest input that yields ``amount_out_`` (``UniswapV2Library.getAmountIn``)."""
    if amount_out_ <= 0:
        return 0
    if amount_out_ >= reserve_out:
        raise NoRoute("output exceeds the pool's reserve")
    return (reserve_in * amount_out_ * BPS) // ((reserve_out - amount_out_) * (BPS - fee_bps)) + 1


Reserves = dict[str, list[int]]  # pool address -> [reserve0, reserve1], mutated by simulation


def reserves_of(pools: Iterable[PoolInfo]) -> Reserves:
    return {p.address: [p.reserve0, p.reserve1] for p in pools}


def path_out(path: Path, amount: int, reserves: Reserves, *, apply: bool = False) -> int:
    """Output of sending ``amount`` down ``path``; with ``apply`` the reserves move as on-chain."""
    for hop in path.hops:
        r = reserves[hop.pool.address]
        zero_for_one = hop.token_in == hop.pool.token0
        r_in, r_out = (r[0], r[1]) if zero_for_one else (r[1], r[0])
        out = amount_out(amount, r_in, r_out, hop.pool.fee_bps)
        if apply:
            if zero_for_one:
                r[0], r[1] = r[0] + amount, r[1] - out
            else:
                r[1], r[0] = r[1] + amount, r[0] - out
        amount = out
        if amount == 0:
            return 0
    return amount


def path_mid_rate(path: Path) -> Decimal:
    """Output per unit input at the mid price, after each hop's LP fee (no price impact)."""
    rate = Decimal(1)
    for hop in path.hops:
        p = hop.pool
        r_in, r_out = (p.reserve0, p.reserve1) if hop.token_in == p.token0 else (p.reserve1, p.reserve0)
        if r_in <= 0:
            return Decimal(0)
        rate *= Decimal(r_out) / Decimal(r_in) * Decimal(BPS - p.fee_bps) / BPS
    return rate


def candidate_paths(
    pools: Sequence[PoolInfo], sell: str, buy: str, connectors: Sequence[str], *, max_connectors: int = 2
) -> list[Path]:
    """Every path from ``sell`` to ``buy`` of 1 to ``max_connectors + 1`` pools whose inner
    tokens are distinct connectors, each pool with both reserves positive and one fee per path."""
    by_pair: dict[frozenset[str], list[PoolInfo]] = {}
    for pool in pools:
        if pool.reserve0 > 0 and pool.reserve1 > 0:
            by_pair.setdefault(frozenset((pool.token0, pool.token1)), []).append(pool)
    inner = [c for c in dict.fromkeys(connectors) if c not in (sell, buy)]
    token_paths: list[list[str]] = [[sell, buy]]
    token_paths += [[sell, c, buy] for c in inner]
    if max_connectors >= 2:
        token_paths += [[sell, c1, c2, buy] for c1 in inner for c2 in inner if c1 != c2]
    paths: list[Path] = []
    for tokens in token_paths:
        legs = [by_pair.get(frozenset((a, b)), []) for a, b in zip(tokens, tokens[1:], strict=False)]
        if not all(legs):
            continue
        combos: list[list[PoolInfo]] = [[]]
        for leg in legs:
            combos = [c + [p] for c in combos for p in leg if not c or c[0].fee_bps == p.fee_bps]
        for combo in combos:
            hops = tuple(Hop(p, a, b) for p, a, b in zip(combo, tokens, tokens[1:], strict=False))
            paths.append(Path(hops))
    return paths


def route_gas(fills: Sequence[Fill] | Sequence[Path], *, via_router: bool) -> int:
    paths = [f.path if isinstance(f, Fill) else f for f in fills]
    hops = sum(len(p.hops) for p in paths)
    if via_router:
        return ROUTER_GAS_BASE + GAS_PER_HOP * (hops - 1)
    return EXECUTOR_GAS_BASE + GAS_PER_FILL * len(paths) + GAS_PER_HOP * hops


def _evaluate(allocation: Sequence[tuple[Path, int]], base: Mapping[str, PoolInfo], amount_in: int) -> Route:
    """Quote fills in execution order against one copy of the reserves."""
    reserves = reserves_of(base.values())
    fills = []
    for path, amount in allocation:
        if amount > 0:
            fills.append(Fill(path, amount, path_out(path, amount, reserves, apply=True)))
    total = sum(f.amount_out for f in fills)
    via_router = len(fills) == 1 and len(fills[0].path.dexes) == 1
    mid = sum((Decimal(f.amount_in) * path_mid_rate(f.path) for f in fills), Decimal(0))
    return Route(
        fills=tuple(fills),
        amount_in=amount_in,
        amount_out=total,
        gas=route_gas(fills, via_router=via_router),
        kind="single" if len(fills) == 1 else "split",
        mid_out=mid,
    )


def _ternary_split(a: Path, b: Path, amount: int, reserves: Reserves) -> int:
    """Amount for ``a`` (rest to ``b``) maximising the sum; the sum is concave in the split."""
    lo, hi = 0, amount
    for _ in range(TERNARY_STEPS):
        if hi - lo <= 2:
            break
        m1 = lo + (hi - lo) // 3
        m2 = hi - (hi - lo) // 3
        f1 = path_out(a, m1, reserves) + path_out(b, amount - m1, reserves)
        f2 = path_out(a, m2, reserves) + path_out(b, amount - m2, reserves)
        if f1 < f2:
            lo = m1
        else:
            hi = m2
    ends = {lo, (lo + hi) // 2, hi}
    return max(sorted(ends), key=lambda x: path_out(a, x, reserves) + path_out(b, amount - x, reserves))


def _greedy_split(paths: Sequence[Path], amount: int, base: Reserves) -> list[tuple[Path, int]]:
    """Hand out ``amount`` in chunks, each to the path paying most for it at that moment."""
    reserves = {k: list(v) for k, v in base.items()}
    given = [0] * len(paths)
    chunk, rest = divmod(amount, SPLIT_CHUNKS)
    for step in range(SPLIT_CHUNKS):
        size = chunk + (rest if step == SPLIT_CHUNKS - 1 else 0)
        if size <= 0:
            continue
        best = max(range(len(paths)), key=lambda i: path_out(paths[i], size, reserves))
        path_out(paths[best], size, reserves, apply=True)
        given[best] += size
    return [(p, g) for p, g in zip(paths, given, strict=True) if g > 0]


def route_best(
    paths: Sequence[Path], amount_in: int, *, gas_cost_in_out: Decimal = Decimal(0), allow_split: bool = True
) -> Route:
    """Best route for ``amount_in`` over ``paths``, net of gas.

    ``gas_cost_in_out`` is what one unit of gas costs in output-token base units (0 when
    unknown, which compares gross outputs). ``allow_split=False`` (no executor on the
    chain) keeps to one path. Raises :class:`NoRoute` when nothing pays.
    """
    if amount_in <= 0:
        raise NoRoute("amount must be positive")
    pools = {h.pool.address: h.pool for p in paths for h in p.hops}
    base = reserves_of(pools.values())
    scored = sorted(((path_out(p, amount_in, base), i) for i, p in enumerate(paths)), reverse=True)
    scored = [(out, i) for out, i in scored if out > 0]
    if not scored:
        raise NoRoute("no pool path with liquidity")
    top = [paths[i] for _, i in scored[:SPLIT_CANDIDATES]]
    options = [_evaluate([(top[0], amount_in)], pools, amount_in)]
    if allow_split and len(top) >= 2:
        disjoint = next(
            ((top[0], q) for q in top[1:] if not set(top[0].pools) & set(q.pools)),
            None,
        )
        if disjoint:
            a_amount = _ternary_split(disjoint[0], disjoint[1], amount_in, base)
            options.append(_evaluate([(disjoint[0], a_amount), (disjoint[1], amount_in - a_amount)], pools, amount_in))
        options.append(_evaluate(_greedy_split(top, amount_in, base), pools, amount_in))

    def net(route: Route) -> Decimal:
        return Decimal(route.amount_out) - gas_cost_in_out * route.gas

    return max(options, key=lambda r: (net(r), -len(r.fills)))


def route_requote(route: Route, pools: Mapping[str, PoolInfo]) -> Route:
    """The same fills (paths and input amounts) quoted again at other reserves."""
    fresh_paths = []
    for fill in route.fills:
        hops = tuple(Hop(pools[h.pool.address], h.token_in, h.token_out) for h in fill.path.hops)
        fresh_paths.append((Path(hops), fill.amount_in))
    return _evaluate(fresh_paths, pools, route.amount_in)
