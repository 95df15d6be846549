"""Swap quotes and transactions: route across the indexed DEX pools, check, simulate, build.

A quote (:func:`swap_quote`) routes with the indexer's pools (``market.Pool``) whose
reserves are read again at the latest block in one batched request (``reserves="indexed"``
skips that and trusts the indexer, for benchmarks and previews). Amounts are integers in
base units; the JSON answer uses the 0x Swap API v2 field names.

A build (:func:`swap_build`) takes a quote the user has seen, re-reads the route's reserves
at the latest block, refuses when the price has moved past the quote's ``minBuyAmount``,
and returns the approval (if any) and the swap transaction, always with that min-out, a
deadline and the taker as recipient, after simulating it with ``eth_call`` and
``eth_estimateGas``. A route with one fill on one DEX goes to that DEX's router (the
fee-on-transfer-safe functions, so taxed tokens work); a split or mixed-DEX route goes to
the SwapExecutor.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from web3 import Web3

from market.models import Token
from market.rpc import RpcClient, RpcError, RpcUnavailable
from swaps import chain as c
from swaps.routing import BPS, NoRoute, PoolInfo, Route, candidate_paths, path_mid_rate, route_best, route_requote
from swaps.safety import TokenCheck, token_check
from swaps.selectors import swap_pools, swap_tokens

NATIVE = c.NATIVE
MAX_SELL_AMOUNT = 2**112 - 1  # a V2 pair's reserves are uint112: more can never be sold

# Messages tests import; ``field`` names the request parameter at fault.
UNKNOWN_TOKEN = "unknown token {address} on chain {chain_id}: it is not in any indexed pool"
SAME_TOKEN = "buyToken must differ from sellToken"
AMOUNT_NOT_POSITIVE = "sellAmount must be a positive integer in base units"
AMOUNT_TOO_LARGE = "sellAmount {amount} exceeds what any V2 pool can hold (2**112 - 1)"
AMOUNT_TOO_SMALL = "sellAmount {amount} is too small: it buys nothing after fees and rounding"
NO_ROUTE = "no route with liquidity from {sell} to {buy}"
IMPACT_TOO_HIGH = "this trade would move the price by {pct:.1f}%, above the {limit:.0f}% limit; sell less"
IMPACT_UNCONFIRMED = "price impact is {pct:.1f}% (above {limit:.0f}%): resend with confirmPriceImpact=true to accept it"
SLIPPAGE_OUT_OF_RANGE = "slippageBps must be between {low} and {high} (0.01%-5%), got {value}"
HONEYPOT = "{symbol} cannot be sold: a simulated sell reverts ({reason}); swap refused"
QUOTE_EXPIRED = "quote {quote_id} has expired or does not exist; request a new quote"
TAKER_MISMATCH = "this quote was made for {expected}; request a quote for {taker}"
INSUFFICIENT_BALANCE = "taker {taker} holds {actual} of {token}, needs {expected}"
INSUFFICIENT_GAS_BALANCE = "taker {taker} holds {actual} wei, needs {expected} wei for the amount plus network fee"
PRICE_MOVED = (
    "the price moved since the quote: the route now pays {now}, below minBuyAmount {min_out}; request a new quote"
)
SIMULATION_REVERTED = "the swap reverts in simulation at block {block}: {reason}"
NODE_UNAVAILABLE = "the chain node is unavailable: {error}"
APPROVAL_MODES = ("exact", "unlimited")


class SwapError(Exception):
    """A refused request: ``status`` is the HTTP status, ``field`` the parameter at fault."""

    def __init__(self, message: str, *, code: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.status = status


@dataclass(frozen=True)
class Quote:
    """A priced route for one request, cached under ``id`` until ``expires_at``."""

    id: str
    chain_id: int
    block: int
    block_timestamp: int
    expires_at: int  # unix seconds
    sell_token: str  # checksummed ERC-20 address, or NATIVE
    buy_token: str
    sell_amount: int
    buy_amount: int  # expected, after the buy token's tax
    min_buy_amount: int
    slippage_bps: int
    route: Route
    gas: int  # estimate from the gas model; the build estimates on the node
    gas_price: int  # wei
    eth_usd: float | None
    taker: str | None
    spender: str | None  # allowance target; None when selling native ETH
    executor: str | None
    weth: str
    allowance: int | None
    balance: int | None
    checks: dict[str, TokenCheck]
    symbols: dict[str, str]
    reserves: str  # "latest" or "indexed"
    price_impact_bps: int

    @property
    def network_fee_wei(self) -> int:
        return self.gas * self.gas_price

    @property
    def network_fee_usd(self) -> float | None:
        return None if self.eth_usd is None else round(self.network_fee_wei / 1e18 * self.eth_usd, 4)

    @property
    def sell_tax_bps(self) -> int:
        check = self.checks.get(self.sell_token)
        return check.sell_tax_bps if check else 0

    @property
    def buy_tax_bps(self) -> int:
        check = self.checks.get(self.buy_token)
        return check.buy_tax_bps if check else 0

    def issues(self) -> dict[str, Any]:
        allowance = None
        if self.spender and self.allowance is not None and self.allowance < self.sell_amount:
            allowance = {"actual": str(self.allowance), "spender": self.spender}
        balance = None
        if self.balance is not None and self.balance < self.sell_amount:
            balance = {"token": self.sell_token, "actual": str(self.balance), "expected": str(self.sell_amount)}
        impact = None
        if self.price_impact_bps > settings.SWAP_IMPACT_WARN_BPS:
            level = "confirm" if self.price_impact_bps > settings.SWAP_IMPACT_CONFIRM_BPS else "warning"
            impact = {"bps": str(self.price_impact_bps), "level": level}
        return {
            "allowance": allowance,
            "balance": balance,
            "priceImpact": impact,
            "simulationIncomplete": any(not ch.simulated for ch in self.checks.values()),
            "invalidSourcesPassed": [],
        }

    def as_json(self) -> dict[str, Any]:
        fills = []
        for fill in self.route.fills:
            share = fill.amount_in * BPS // self.route.amount_in if self.route.amount_in else 0
            for hop in fill.path.hops:
                fills.append(
                    {
                        "from": self._api_token(hop.token_in),
                        "to": self._api_token(hop.token_out),
                        "source": hop.pool.dex,
                        "pool": hop.pool.address,
                        "feeBps": str(hop.pool.fee_bps),
                        "proportionBps": str(share),
                    }
                )
        tokens: list[dict[str, str]] = []
        for fill in self.route.fills:
            for token in fill.path.tokens:
                api = self._api_token(token)
                if all(t["address"] != api for t in tokens):
                    tokens.append({"address": api, "symbol": self.symbols.get(api, "")})
        return {
            "quoteId": self.id,
            "zid": self.id,
            "provider": "local",
            "chainId": self.chain_id,
            "blockNumber": str(self.block),
            "expiresAt": self.expires_at,
            "liquidityAvailable": True,
            "sellToken": self.sell_token,
            "buyToken": self.buy_token,
            "sellAmount": str(self.sell_amount),
            "buyAmount": str(self.buy_amount),
            "minBuyAmount": str(self.min_buy_amount),
            "slippageBps": self.slippage_bps,
            "priceImpactBps": str(self.price_impact_bps),
            "route": {"kind": self.route.kind, "fills": fills, "tokens": tokens},
            "gas": str(self.gas),
            "gasPrice": str(self.gas_price),
            "totalNetworkFee": str(self.network_fee_wei),
            "networkFeeUsd": self.network_fee_usd,
            "allowanceTarget": self.spender,
            "taker": self.taker,
            "issues": self.issues(),
            "tokenMetadata": {
                "sellToken": self._token_meta(self.sell_token),
                "buyToken": self._token_meta(self.buy_token),
            },
            "fees": {"integratorFee": None, "zeroExFee": None, "gasFee": None},
            "reserves": self.reserves,
        }

    def _api_token(self, route_token: str) -> str:
        """Route tokens are ERC-20s; WETH at a native end of the trade is shown as ETH."""
        if route_token == self.weth and NATIVE in (self.sell_token, self.buy_token):
            first = self.route.fills[0].path.tokens
            if (route_token == first[0] and self.sell_token == NATIVE) or (
                route_token == first[-1] and self.buy_token == NATIVE
            ):
                return NATIVE
        return route_token

    def _token_meta(self, token: str) -> dict[str, Any]:
        check = self.checks.get(token)
        if check is None:
            return {"buyTaxBps": "0", "sellTaxBps": "0", "honeypot": False, "simulated": True, "reason": None}
        return check.as_json()


@dataclass
class _Context:
    chain_id: int
    rpc: RpcClient
    weth: str
    connectors: list[str]
    tokens: dict[str, Token] = field(default_factory=dict)


def _context(chain_id: int) -> _Context:
    from market.services import quote_assets_for_chain

    kinds = quote_assets_for_chain(chain_id)
    weth = next((a for a, k in kinds.items() if k == Token.QuoteKind.NATIVE), None)
    if weth is None:
        raise SwapError(f"chain {chain_id} has no WETH in the deployment registry", code="chain_not_configured")
    connectors = [weth] + [a for a, k in kinds.items() if k == Token.QuoteKind.USD]
    return _Context(chain_id=chain_id, rpc=c.rpc_for(), weth=weth, connectors=connectors)


def _route_token(token: str, weth: str) -> str:
    return weth if token == NATIVE else token


def _validate_request(*, sell_token: str, buy_token: str, sell_amount: int, slippage_bps: int) -> None:
    if sell_token == buy_token:
        raise SwapError(SAME_TOKEN, code="same_token", field="buyToken")
    if sell_amount <= 0:
        raise SwapError(AMOUNT_NOT_POSITIVE, code="amount_not_positive", field="sellAmount")
    if sell_amount > MAX_SELL_AMOUNT:
        raise SwapError(AMOUNT_TOO_LARGE.format(amount=sell_amount), code="amount_too_large", field="sellAmount")
    low, high = settings.SWAP_SLIPPAGE_MIN_BPS, settings.SWAP_SLIPPAGE_MAX_BPS
    if not low <= slippage_bps <= high:
        raise SwapError(
            SLIPPAGE_OUT_OF_RANGE.format(low=low, high=high, value=slippage_bps),
            code="slippage_out_of_range",
            field="slippageBps",
        )


def _checks(ctx: _Context, pools: list[PoolInfo], tokens: list[str], executor: str | None) -> dict[str, TokenCheck]:
    """Honeypot and tax checks of the traded tokens that are not quote assets."""
    checks: dict[str, TokenCheck] = {}
    for token in tokens:
        if token in ctx.connectors:
            continue
        own = [p for p in pools if token in (p.token0, p.token1) and p.other(token) in ctx.connectors]
        if not own:
            continue
        if executor is None:
            checks[token] = TokenCheck(token, False, False, 0, 0, "no SwapExecutor on this chain to simulate with")
            continue
        weth_pools = [p for p in own if p.other(token) == ctx.weth]
        pick = max(weth_pools or own, key=lambda p: p.reserve0 if p.token0 != token else p.reserve1)
        checks[token] = token_check(
            rpc=ctx.rpc,
            chain_id=ctx.chain_id,
            token=token,
            pool=pick,
            quote_is_weth=pick.other(token) == ctx.weth,
            executor=executor,
        )
    return checks


def _gas_cost_in_buy(ctx: _Context, pools: list[PoolInfo], buy: str, gas_price: int) -> Decimal:
    """What one unit of gas costs in the buy token's base units, at mid price (0 if unpriced)."""
    if buy == ctx.weth:
        return Decimal(gas_price)
    rates = [path_mid_rate(p) for p in candidate_paths(pools, ctx.weth, buy, ctx.connectors, max_connectors=1)]
    return Decimal(gas_price) * max(rates, default=Decimal(0))


def swap_quote(
    *,
    chain_id: int,
    sell_token: str,
    buy_token: str,
    sell_amount: int,
    slippage_bps: int | None = None,
    taker: str | None = None,
    reserves: str = "latest",
    token_checks: bool = True,
) -> Quote:
    """Route ``sell_amount`` of ``sell_token`` into ``buy_token`` and price it.

    ``sell_token``/``buy_token`` are checksummed ERC-20 addresses or :data:`NATIVE`.
    ``reserves="latest"`` confirms every candidate pool's reserves at the latest block
    (one batched request); ``"indexed"`` uses the indexer's reserves as they are.
    Raises :class:`SwapError` naming the field at fault.
    """
    slippage_bps = settings.SWAP_DEFAULT_SLIPPAGE_BPS if slippage_bps is None else slippage_bps
    _validate_request(sell_token=sell_token, buy_token=buy_token, sell_amount=sell_amount, slippage_bps=slippage_bps)
    ctx = _context(chain_id)
    sell, buy = _route_token(sell_token, ctx.weth), _route_token(buy_token, ctx.weth)
    if sell == buy:  # ETH <-> WETH is a wrap, not a swap
        raise SwapError(SAME_TOKEN, code="same_token", field="buyToken")
    known = swap_tokens(chain_id=chain_id, addresses={sell, buy})
    for name, token in (("sellToken", sell), ("buyToken", buy)):
        if token not in known:
            raise SwapError(UNKNOWN_TOKEN.format(address=token, chain_id=chain_id), code="unknown_token", field=name)
    pools = swap_pools(chain_id=chain_id, tokens=[sell, buy], connectors=ctx.connectors)
    paths = candidate_paths(pools, sell, buy, ctx.connectors)
    if not paths:
        raise SwapError(NO_ROUTE.format(sell=sell_token, buy=buy_token), code="no_route", field="buyToken", status=422)
    try:
        executor = c.executor_address(chain_id=chain_id, rpc=ctx.rpc, weth=ctx.weth)
        if reserves == "latest":
            used = sorted({h.pool.address for p in paths for h in p.hops} | {p.address for p in pools})
            read = c.chain_read(ctx.rpc, pools=used)
            pools = [
                replace(p, reserve0=read.reserves[p.address][0], reserve1=read.reserves[p.address][1]) for p in pools
            ]
            paths = candidate_paths(pools, sell, buy, ctx.connectors)
            block, gas_price = read.block, read.gas_price
        else:
            block = c.BlockRef(max((p.block or 0) for p in pools), int(time.time()), None)
            gas_price = _cached_gas_price(ctx.rpc)
        checks = _checks(ctx, pools, [sell, buy], executor) if token_checks else {}
    except (RpcUnavailable, RpcError) as exc:
        raise SwapError(NODE_UNAVAILABLE.format(error=exc), code="node_unavailable", status=503) from exc
    for token, check in checks.items():
        if check.honeypot:
            symbol = known[token].symbol or token
            field_name = "buyToken" if token == buy else "sellToken"
            raise SwapError(
                HONEYPOT.format(symbol=symbol, reason=check.reason),
                code="token_unsellable",
                field=field_name,
                status=422,
            )
    if executor is None:
        paths = [p for p in paths if len(p.dexes) == 1]
    sell_tax = checks[sell].sell_tax_bps if sell in checks else 0
    buy_tax = checks[buy].buy_tax_bps if buy in checks else 0
    pool_input = sell_amount - sell_amount * sell_tax // BPS
    gas_cost = _gas_cost_in_buy(ctx, pools, buy, gas_price)
    try:
        route = route_best(paths, pool_input, gas_cost_in_out=gas_cost, allow_split=executor is not None)
    except NoRoute as exc:
        if paths:  # pools exist, but every one pays 0 for this amount
            raise SwapError(
                AMOUNT_TOO_SMALL.format(amount=sell_amount), code="amount_too_small", field="sellAmount"
            ) from exc
        raise SwapError(
            NO_ROUTE.format(sell=sell_token, buy=buy_token), code="no_route", field="buyToken", status=422
        ) from exc
    buy_amount = route.amount_out - route.amount_out * buy_tax // BPS
    min_buy = buy_amount * (BPS - slippage_bps) // BPS
    if min_buy <= 0:
        raise SwapError(AMOUNT_TOO_SMALL.format(amount=sell_amount), code="amount_too_small", field="sellAmount")
    impact = route.price_impact_bps
    if impact > settings.SWAP_MAX_PRICE_IMPACT_BPS:
        raise SwapError(
            IMPACT_TOO_HIGH.format(pct=impact / 100, limit=settings.SWAP_MAX_PRICE_IMPACT_BPS / 100),
            code="price_impact_too_high",
            field="sellAmount",
        )
    spender = None
    if sell_token != NATIVE:
        spender = next(p.router for p in pools if p.dex == route.single_dex) if route.single_dex else executor
    allowance = balance = None
    if taker:
        try:
            read_taker = c.chain_read(
                ctx.rpc, pools=[], sell_token=sell_token, taker=taker, spenders=[spender] if spender else []
            )
        except (RpcUnavailable, RpcError) as exc:
            raise SwapError(NODE_UNAVAILABLE.format(error=exc), code="node_unavailable", status=503) from exc
        balance = read_taker.balance
        allowance = read_taker.allowances.get(spender) if spender else None
    symbols = {t: (known[t].symbol or "") for t in known}
    symbols[NATIVE] = "ETH"
    weth_row = known.get(ctx.weth) or swap_tokens(chain_id=chain_id, addresses=[ctx.weth]).get(ctx.weth)
    quote = Quote(
        id=uuid.uuid4().hex,
        chain_id=chain_id,
        block=block.number,
        block_timestamp=block.timestamp,
        expires_at=int(time.time()) + settings.SWAP_QUOTE_TTL,
        sell_token=sell_token,
        buy_token=buy_token,
        sell_amount=sell_amount,
        buy_amount=buy_amount,
        min_buy_amount=min_buy,
        slippage_bps=slippage_bps,
        route=route,
        gas=route.gas,
        gas_price=gas_price,
        eth_usd=weth_row.price_usd if weth_row else None,
        taker=taker,
        spender=spender,
        executor=executor,
        weth=ctx.weth,
        allowance=allowance,
        balance=balance,
        checks={(NATIVE if t == ctx.weth else t): ch for t, ch in checks.items()},
        symbols=symbols,
        reserves=reserves,
        price_impact_bps=impact,
    )
    cache.set(_quote_key(quote.id), quote, timeout=settings.SWAP_QUOTE_TTL)
    return quote


def _cached_gas_price(rpc: RpcClient) -> int:
    key = f"swaps:gas-price:{rpc.url}"
    price = cache.get(key)
    if price is None:
        price = int(rpc.call("eth_gasPrice"), 16)
        cache.set(key, price, timeout=5)
    return int(price)


def _quote_key(quote_id: str) -> str:
    return f"swaps:quote:{quote_id}"


def swap_quote_get(*, quote_id: str) -> Quote:
    """A quote still within its expiry, or a 400 naming ``quoteId``."""
    quote = cache.get(_quote_key(quote_id)) if quote_id else None
    if not isinstance(quote, Quote) or quote.expires_at < time.time():
        raise SwapError(QUOTE_EXPIRED.format(quote_id=quote_id), code="quote_expired", field="quoteId")
    return quote


# --- Build --------------------------------------------------------------------------------

ROUTER_ETH_IN = "swapExactETHForTokensSupportingFeeOnTransferTokens(uint256,address[],address,uint256)"
ROUTER_ETH_OUT = "swapExactTokensForETHSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)"
ROUTER_TOKENS = "swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)"
EXECUTE = "execute(address,uint256,address,(address[],uint256,uint16)[],uint256,address,uint256)"
APPROVE = "approve(address,uint256)"


def swap_calldata(*, quote: Quote, taker: str, deadline: int) -> tuple[str, str, int]:
    """(to, data, value) of the swap: router for one fill on one DEX, else the executor."""
    route, min_out = quote.route, quote.min_buy_amount
    value = quote.sell_amount if quote.sell_token == NATIVE else 0
    if route.single_dex:
        path = route.fills[0].path
        router = path.hops[0].pool.router
        tokens = path.tokens
        if quote.sell_token == NATIVE:
            return router, c.encode_call(ROUTER_ETH_IN, [min_out, tokens, taker, deadline]), value
        if quote.buy_token == NATIVE:
            return router, c.encode_call(ROUTER_ETH_OUT, [quote.sell_amount, min_out, tokens, taker, deadline]), 0
        return router, c.encode_call(ROUTER_TOKENS, [quote.sell_amount, min_out, tokens, taker, deadline]), 0
    if quote.executor is None:
        raise SwapError(c.EXECUTOR_MISSING.format(chain_id=quote.chain_id), code="executor_missing", status=422)
    token_in = c.EXECUTOR_NATIVE if quote.sell_token == NATIVE else quote.sell_token
    token_out = c.EXECUTOR_NATIVE if quote.buy_token == NATIVE else quote.buy_token
    # Fills carry the pool input after the sell tax; the executor pulls what the taker sends.
    fills = _executor_fills(route, quote.sell_amount)
    data = c.encode_call(EXECUTE, [token_in, quote.sell_amount, token_out, fills, min_out, taker, deadline])
    return quote.executor, data, value


def _executor_fills(route: Route, sell_amount: int) -> list[tuple[list[str], int, int]]:
    """Fill amounts scaled from pool input back to the taker's amount, summing exactly."""
    fills, given = [], 0
    for i, fill in enumerate(route.fills):
        if i == len(route.fills) - 1:
            amount = sell_amount - given
        else:
            amount = fill.amount_in * sell_amount // route.amount_in
        given += amount
        fills.append((list(fill.path.pools), amount, fill.path.fee_bps))
    return fills


@dataclass(frozen=True)
class Build:
    quote: Quote
    transaction: dict[str, str]
    approval: dict[str, str] | None
    simulation: dict[str, Any]
    deadline: int
    fresh_buy_amount: int

    def as_json(self) -> dict[str, Any]:
        body = self.quote.as_json()
        body.update(
            {
                "transaction": self.transaction,
                "approval": self.approval,
                "simulation": self.simulation,
                "deadline": self.deadline,
                "recipient": self.transaction["from"],
                "expectedBuyAmountNow": str(self.fresh_buy_amount),
            }
        )
        return body


def swap_build(
    *,
    quote: Quote,
    taker: str,
    unlimited_approval: bool = False,
    confirm_price_impact: bool = False,
) -> Build:
    """Build the approval (if needed) and swap transactions for ``quote``, paid to ``taker``.

    Min-out is the quote's ``minBuyAmount``; the deadline is the latest block's time plus
    ``SWAP_DEADLINE_SECONDS``. The swap is simulated at the latest block; while the approval
    is still missing the simulation overrides the allowance (``simulation.stateOverride``),
    and when the token's allowance slot is unknown it says the simulation follows approval.
    """
    if quote.taker and quote.taker != taker:
        raise SwapError(TAKER_MISMATCH.format(expected=quote.taker, taker=taker), code="taker_mismatch", field="taker")
    if quote.price_impact_bps > settings.SWAP_IMPACT_CONFIRM_BPS and not confirm_price_impact:
        raise SwapError(
            IMPACT_UNCONFIRMED.format(pct=quote.price_impact_bps / 100, limit=settings.SWAP_IMPACT_CONFIRM_BPS / 100),
            code="price_impact_unconfirmed",
            field="confirmPriceImpact",
            status=409,
        )
    rpc = c.rpc_for()
    pools = {h.pool.address: h.pool for f in quote.route.fills for h in f.path.hops}
    try:
        read = c.chain_read(
            rpc,
            pools=list(pools),
            sell_token=quote.sell_token,
            taker=taker,
            spenders=[quote.spender] if quote.spender else [],
        )
    except (RpcUnavailable, RpcError) as exc:
        raise SwapError(NODE_UNAVAILABLE.format(error=exc), code="node_unavailable", status=503) from exc
    fresh_pools = {a: replace(p, reserve0=read.reserves[a][0], reserve1=read.reserves[a][1]) for a, p in pools.items()}
    fresh = route_requote(quote.route, fresh_pools)
    fresh_buy = fresh.amount_out - fresh.amount_out * quote.buy_tax_bps // BPS
    if fresh_buy < quote.min_buy_amount:
        raise SwapError(
            PRICE_MOVED.format(now=fresh_buy, min_out=quote.min_buy_amount),
            code="price_moved",
            field="quoteId",
            status=409,
        )
    balance = read.balance or 0
    if balance < quote.sell_amount:
        raise SwapError(
            INSUFFICIENT_BALANCE.format(
                taker=taker, actual=balance, token=quote.sell_token, expected=quote.sell_amount
            ),
            code="insufficient_balance",
            field="taker",
        )
    deadline = read.block.timestamp + settings.SWAP_DEADLINE_SECONDS
    to, data, value = swap_calldata(quote=quote, taker=taker, deadline=deadline)
    allowance = read.allowances.get(quote.spender, 0) if quote.spender else None
    needs_approval = allowance is not None and allowance < quote.sell_amount
    approval = None
    overrides: dict[str, Any] = {}
    simulation: dict[str, Any] = {"block": str(read.block.number), "stateOverride": None}
    if needs_approval:
        assert quote.spender is not None
        amount = c.MAX_UINT256 if unlimited_approval else quote.sell_amount
        approve_tx = {"from": taker, "to": quote.sell_token, "data": c.encode_call(APPROVE, [quote.spender, amount])}
        approval_gas = _estimate(rpc, approve_tx, {})
        approval = {**approve_tx, "value": "0", "gas": str(approval_gas), "amount": str(amount)}
        _, allowance_slot = c.token_slots(rpc, quote.chain_id, quote.sell_token)
        if allowance_slot is not None:
            key = c.allowance_storage_key(taker, quote.spender, allowance_slot)
            overrides = {quote.sell_token: {"stateDiff": {key: c.word_hex(quote.sell_amount)}}}
            simulation["stateOverride"] = "allowance"
    tx = {"from": taker, "to": to, "data": data, "value": hex(value)}
    if needs_approval and not overrides:
        simulation.update(
            {"status": "after_approval", "reason": "allowance slot unknown; simulate again after approval"}
        )
        gas = int(quote.gas * 1.5)
    else:
        try:
            result = rpc.call("eth_call", [tx, "latest", overrides] if overrides else [tx, "latest"])
            gas_used = _estimate(rpc, tx, overrides)
        except RpcError as exc:
            raise SwapError(
                SIMULATION_REVERTED.format(block=read.block.number, reason=c.revert_message(exc)),
                code="simulation_reverted",
                status=422,
            ) from exc
        simulation["status"] = "success"
        if to == quote.executor:
            simulation["amountOut"] = str(c.uint(result))
        gas = math.ceil(gas_used * (100 + settings.SWAP_GAS_BUFFER_PCT) / 100) + _twap_headroom(quote)
    if quote.sell_token == NATIVE and balance < quote.sell_amount + gas * read.gas_price:
        raise SwapError(
            INSUFFICIENT_GAS_BALANCE.format(
                taker=taker, actual=balance, expected=quote.sell_amount + gas * read.gas_price
            ),
            code="insufficient_balance",
            field="taker",
        )
    transaction = {
        "from": taker,
        "to": to,
        "data": data,
        "value": str(value),
        "gas": str(gas),
        "gasPrice": str(read.gas_price),
        "chainId": str(quote.chain_id),
    }
    built = replace(quote, gas=gas, gas_price=read.gas_price, allowance=allowance, balance=balance, taker=taker)
    return Build(built, transaction, approval, simulation, deadline, fresh_buy)


# A V2 pair writes price0CumulativeLast and price1CumulativeLast only when the block time moved
# since its last update. eth_estimateGas runs with the latest block's time, where a pair touched
# in that block skips both writes, while the sent transaction lands later and makes them: up to
# two zero-to-nonzero SSTOREs per hop. Seen as "out of gas" in the second hop of a split route.
TWAP_WRITE_GAS_PER_HOP = 2 * 22_100  # gas units


def _twap_headroom(quote: Quote) -> int:
    return TWAP_WRITE_GAS_PER_HOP * sum(len(fill.path.hops) for fill in quote.route.fills)


def _estimate(rpc: RpcClient, tx: dict[str, Any], overrides: dict[str, Any]) -> int:
    params: list[Any] = [tx, "latest", overrides] if overrides else [tx]
    return int(rpc.call("eth_estimateGas", params), 16)


def checksum_or_none(address: str | None) -> str | None:
    return Web3.to_checksum_address(address) if address else None
