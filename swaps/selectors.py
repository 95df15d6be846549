"""Reads for the swap service: tokens and the pools a route may use, from the indexer's rows."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from market.models import Pool, Token
from swaps.routing import PoolInfo


def swap_tokens(*, chain_id: int, addresses: Iterable[str]) -> dict[str, Token]:
    """Indexed tokens by checksummed address (one query)."""
    return {t.address: t for t in Token.objects.filter(chain_id=chain_id, address__in=list(addresses))}


def swap_pools(*, chain_id: int, tokens: Iterable[str], connectors: Iterable[str]) -> list[PoolInfo]:
    """Pools with liquidity that touch one of ``tokens``, plus the pools between connectors.

    That is every pool a path ``token - [connector - [connector -]] token`` can use. One query
    (pool joined with its DEX and both tokens), reading only the columns routing needs.
    """
    tokens, connectors = list(tokens), list(connectors)
    rows = (
        Pool.objects.filter(chain_id=chain_id, reserve0__gt=0, reserve1__gt=0)
        .filter(
            Q(token0__address__in=tokens)
            | Q(token1__address__in=tokens)
            | Q(token0__address__in=connectors, token1__address__in=connectors)
        )
        .values_list(
            "address",
            "dex__name",
            "dex__router",
            "dex__fee_bps",
            "token0__address",
            "token1__address",
            "reserve0",
            "reserve1",
            "reserves_block",
        )
    )
    return [
        PoolInfo(
            address=address,
            dex=dex,
            router=router,
            fee_bps=int(fee),
            token0=t0,
            token1=t1,
            reserve0=int(r0),
            reserve1=int(r1),
            block=block,
        )
        for address, dex, router, fee, t0, t1, r0, r1, block in rows
    ]


def swap_widget_config(*, chain_id: int, buy: str) -> dict[str, object]:
    """What the widget needs to start: chain, what it can pay with, the token to buy.

    ``buy`` is taken only when it is a checksummed, indexed token; otherwise the page asks
    for one. Pay options are ETH and the chain's stablecoins (from the deployment registry).
    """
    from django.urls import reverse
    from web3 import Web3

    from market.services import quote_assets_for_chain
    from swaps.chain import NATIVE

    kinds = quote_assets_for_chain(chain_id)
    stables = [a for a, k in kinds.items() if k == Token.QuoteKind.USD]
    known = swap_tokens(chain_id=chain_id, addresses=[*stables, buy] if buy else stables)
    pay = [{"address": NATIVE, "symbol": "ETH", "decimals": 18}]
    pay += [
        {"address": a, "symbol": known[a].symbol or "USD", "decimals": known[a].decimals or 18}
        for a in stables
        if a in known
    ]
    token = known.get(buy) if buy and Web3.is_checksum_address(buy) else None
    return {
        "chainId": chain_id,
        "quoteUrl": reverse("api:swap-quote"),
        "buildUrl": reverse("api:swap-build"),
        "native": NATIVE,
        "pay": pay,
        "buy": (
            {"address": token.address, "symbol": token.symbol or token.address[:8], "decimals": token.decimals or 18}
            if token
            else None
        ),
        "buyRequested": buy,
        "defaultSlippageBps": settings_default_slippage(),
    }


def settings_default_slippage() -> int:
    from django.conf import settings

    return int(settings.SWAP_DEFAULT_SLIPPAGE_BPS)
