"""Reads of indexed market data. Selectors never write."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import QuerySet

from market.models import Candle, HolderBalance, Pool, PoolSnapshot, Token, TokenActivity, Transfer


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.9g}")


def market_state_digest(*, chain_id: int) -> dict[str, Any]:
    """Canonical summary of everything indexed for a chain, keyed by addresses, not ids.

    Two indexers that read the same chain must produce equal digests however their runs
    were split, interrupted or rolled back; floats are rounded to 9 significant digits so
    summation order does not matter.
    """
    tokens = {t.id: t.address for t in Token.objects.filter(chain_id=chain_id)}
    pools = {p.id: p.address for p in Pool.objects.filter(chain_id=chain_id)}
    digest: dict[str, Any] = {
        "tokens": sorted(
            (
                t.address,
                t.symbol,
                t.decimals,
                str(t.total_supply),
                t.holder_count,
                _round(t.price_usd),
                _round(t.liquidity_usd),
            )
            for t in Token.objects.filter(chain_id=chain_id)
        ),
        "pools": sorted(
            (p.address, str(p.reserve0), str(p.reserve1), p.reserves_block, _round(p.tvl_usd))
            for p in Pool.objects.filter(chain_id=chain_id)
        ),
        "balances": sorted(
            (tokens[t], a, str(b))
            for t, a, b in HolderBalance.objects.filter(token__chain_id=chain_id).values_list(
                "token_id", "address", "balance"
            )
        ),
        "candles": sorted(
            (tokens[c[0]], c[1], c[2].isoformat(), *(_round(v) for v in c[3:]))
            for c in Candle.objects.filter(token__chain_id=chain_id).values_list(
                "token_id", "interval", "bucket", "open", "high", "low", "close", "volume", "volume_usd", "trades"
            )
        ),
        "snapshots": sorted(
            (pools[s[0]], s[1].isoformat(), str(s[2]), str(s[3]), _round(s[4]))
            for s in PoolSnapshot.objects.filter(pool__chain_id=chain_id).values_list(
                "pool_id", "hour", "reserve0", "reserve1", "tvl_usd"
            )
        ),
        "activity": sorted(
            (tokens[a[0]], *a[1:2], a[2].isoformat(), *a[3:])
            for a in TokenActivity.objects.filter(token__chain_id=chain_id).values_list(
                "token_id",
                "interval",
                "bucket",
                "transfers",
                "active_addresses",
                "swaps",
                "unique_traders",
                "whale_transfers",
            )
        ),
        "transfers": Transfer.objects.filter(chain_id=chain_id).count(),
        "whale_transfers": Transfer.objects.filter(chain_id=chain_id, is_whale=True).count(),
    }
    digest["sha256"] = hashlib.sha256(json.dumps(digest, sort_keys=True, default=str).encode()).hexdigest()
    return digest


def top_holders(*, token: Token, limit: int = 20) -> QuerySet[HolderBalance]:
    """Largest balances first (the index ``holder_top`` serves this)."""
    return HolderBalance.objects.filter(token=token, balance__gt=0).order_by("-balance")[:limit]


def whale_transfers(*, token: Token, limit: int = 50) -> QuerySet[Transfer]:
    return Transfer.objects.filter(token=token, is_whale=True).order_by("-timestamp", "-log_index")[:limit]
