"""Rows for page tests: tokens with market state, candles, ratings, whale transfers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from market.models import Candle, HolderBalance, Interval, Token, Transfer
from ratings.models import TokenRating
from wallets.models import User

MARKET_TIME = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
E18 = 10**18


def token_make(
    index: int, *, price: float = 1.0, supply_whole: int = 1_000_000, liquidity: float = 50_000.0, chain_id: int = 31337
) -> Token:
    return Token.objects.create(
        chain_id=chain_id,
        address=f"0x{index:040x}",
        name=f"Token {index}",
        symbol=f"TK{index}",
        decimals=18,
        total_supply=supply_whole * E18,
        first_seen_block=1,
        price_usd=price,
        liquidity_usd=liquidity,
        holder_count=10 + index,
        market_block=100,
        market_updated_at=MARKET_TIME,
    )


def rating_make(
    token: Token, *, trader: float, investor: float, signal: str = "neutral", **extra: object
) -> TokenRating:
    fields: dict[str, object] = {
        "trader_grade": trader,
        "investor_grade": investor,
        "overall_grade": (trader + investor) / 2,
        "trader_grade_change_24h": 1.5,
        "trader_grade_change_7d": -2.0,
        "investor_grade_change_24h": 0.5,
        "investor_grade_change_7d": 3.0,
        "signal": signal,
        "signal_since": MARKET_TIME - timedelta(hours=5),
        "risk_flags": [],
        "top_contributions": [
            {"name": "ret_24h", "label": "Return over 24h", "value": 0.12, "contribution": 4.2},
            {"name": "holders_growth", "label": "Holder growth", "value": 0.03, "contribution": -1.1},
        ],
        "model_version": "rules-v0",
        "computed_at": MARKET_TIME,
        "price_usd": token.price_usd,
        "price_change_24h": 5.0,
        "price_change_7d": -3.0,
        "volume_24h_usd": 10_000.0,
        "market_cap_usd": (token.price_usd or 0) * 1_000_000,
        "liquidity_usd": token.liquidity_usd,
        "holder_count": token.holder_count,
    }
    fields.update(extra)
    return TokenRating.objects.create(token=token, **fields)


def candles_make(token: Token, *, hours: int = 48, start_price: float = 1.0, step: float = 0.01) -> None:
    rows = []
    price = start_price
    for i in range(hours):
        bucket = MARKET_TIME - timedelta(hours=hours - i)
        close = price * (1 + (step if i % 3 else -step))
        rows.append(
            Candle(
                token=token,
                interval=Interval.HOUR,
                bucket=bucket,
                open=price,
                high=max(price, close) * 1.01,
                low=min(price, close) * 0.99,
                close=close,
                volume=1000.0,
                volume_usd=1000.0 * close,
                trades=5,
            )
        )
        price = close
    Candle.objects.bulk_create(rows)


def whale_make(token: Token, *, n: int = 1, usd: float = 100_000.0) -> None:
    for i in range(n):
        Transfer.objects.create(
            chain_id=token.chain_id,
            block_number=90 + i,
            tx_hash=f"0x{token.pk:032x}{i:032x}",
            log_index=token.pk,  # a log's place in its block: one per token's transfer in each block
            timestamp=MARKET_TIME - timedelta(minutes=i),
            token=token,
            from_address=f"0x{'a' * 40}",
            to_address=f"0x{'b' * 40}",
            value=10_000 * E18,
            kind=Transfer.Kind.BUY,
            usd_value=usd,
            is_whale=True,
        )


def holder_make(token: Token, address: str, whole: int) -> HolderBalance:
    return HolderBalance.objects.create(token=token, address=address, balance=whole * E18, updated_block=100)


def persona_make(name: str) -> User:
    from allauth.account.models import EmailAddress

    user = User.objects.create_user(username=name, email=f"{name}@example.com", password=f"{name}-pass-12345")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user
