"""A small rated market written straight into the database, users, and API clients.

Five rated tokens with known grades, signals, market caps and risk flags (plus an unrated
quote token), candles, holders, whale transfers, anomalies, signal flips and pool snapshots:
enough for every endpoint to have an exact expected answer. The cache (throttle counters and
cached answers) is cleared around each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from web3 import Web3

from market.models import Candle, Dex, HolderBalance, Pool, PoolSnapshot, Token, Transfer
from ratings.models import Anomaly, DataPointValue, GradeHistory, RiskFlag, SignalChange, TokenRating
from tests.site.factories import persona_make
from tmsite.api.models import ApiKey
from wallets.models import User

CHAIN = 31337
NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)
E18 = 10**18


def address(n: int) -> str:
    return Web3.to_checksum_address(f"0x{n:040x}" if n > 0xFFFF else Web3.keccak(text=f"token-{n}").hex()[-40:])


@dataclass
class Market:
    tokens: dict[str, Token]
    quote: Token

    def url(self, symbol: str, suffix: str = "") -> str:
        token = self.tokens[symbol] if symbol in self.tokens else self.quote
        return f"/api/v1/tokens/{CHAIN}/{token.address}/{suffix}"


# symbol: (trader, investor, signal, market cap (None: unknown), risk flags)
RATED = {
    "ALPHA": (81.0, 60.0, "bullish", 5_000_000.0, []),
    "BETA": (66.0, 72.0, "bullish", 1_000_000.0, []),
    "GAMMA": (50.0, 50.0, "neutral", None, ["thin_liquidity"]),
    "DELTA": (31.0, 40.0, "bearish", 200_000.0, []),
    "RUG": (8.0, 9.0, "bearish", 50_000.0, ["honeypot", "thin_liquidity"]),
}


def token_make(symbol: str, n: int, **kw: object) -> Token:
    return Token.objects.create(
        chain_id=CHAIN,
        address=address(n),
        name=f"{symbol.title()} Token",
        symbol=symbol,
        decimals=18,
        total_supply=1_000_000 * E18,
        first_seen_block=1,
        **kw,
    )


def rating_make(token: Token, trader: float, investor: float, signal: str, mcap: float | None, flags: list) -> None:
    TokenRating.objects.create(
        token=token,
        trader_grade=trader,
        investor_grade=investor,
        overall_grade=(trader + investor) / 2,
        signal=signal,
        signal_since=NOW - timedelta(hours=5),
        risk_flags=flags,
        model_version="rules-v0",
        computed_at=NOW,
        as_of=NOW - timedelta(hours=1),
        price_usd=token.price_usd,
        market_cap_usd=mcap,
        volume_24h_usd=trader * 1000,
        liquidity_usd=token.liquidity_usd,
        holder_count=token.holder_count,
    )


@pytest.fixture
def market(db) -> Market:
    tokens = {}
    for n, (symbol, (trader, investor, signal, mcap, flags)) in enumerate(RATED.items(), start=1):
        token = token_make(symbol, n, price_usd=2.0, liquidity_usd=10_000.0 * n, holder_count=3)
        rating_make(token, trader, investor, signal, mcap, flags)
        for code in flags:
            RiskFlag.objects.create(
                token=token, code=code, severity="high", detail="seen", detected_at=NOW, checked_at=NOW
            )
        tokens[symbol] = token
    RiskFlag.objects.create(
        token=tokens["ALPHA"],
        code="mintable",
        severity="low",
        detail="gone",
        detected_at=NOW,
        checked_at=NOW,
        active=False,
    )
    quote = token_make("WETH", 99, price_usd=3000.0, quote_kind="native")
    alpha = tokens["ALPHA"]
    for hour in range(30):
        at = NOW - timedelta(hours=hour)
        Candle.objects.create(
            token=alpha,
            interval="1h",
            bucket=at,
            open=1,
            high=2,
            low=0.5,
            close=1.5,
            volume=10,
            volume_usd=15,
            trades=3,
        )
        GradeHistory.objects.create(
            token=alpha,
            interval="1h",
            at=at,
            trader_grade=50 + hour,
            investor_grade=40,
            overall_grade=45,
            model_version="rules-v0",
        )
    for day in range(3):
        Candle.objects.create(
            token=alpha, interval="1d", bucket=NOW - timedelta(days=day + 1), open=1, high=2, low=0.5, close=1.5,
            volume=240, volume_usd=360, trades=70,
        )  # fmt: skip
    # flips: bullish at 1.0, bearish at 2.5, bullish at 2.0 (current price 2.0)
    for hours_ago, signal, price in [(20, "bullish", 1.0), (10, "bearish", 2.5), (5, "bullish", 2.0)]:
        SignalChange.objects.create(
            token=alpha, at=NOW - timedelta(hours=hours_ago), signal=signal, trader_grade=60, price_usd=price
        )
    HolderBalance.objects.create(token=alpha, address=address(0xA11CE00001), balance=600_000 * E18, updated_block=5)
    HolderBalance.objects.create(token=alpha, address=address(0xB0B0000002), balance=300_000 * E18, updated_block=5)
    HolderBalance.objects.create(token=alpha, address=address(0xCA70000003), balance=100_000 * E18 + 1, updated_block=5)
    for i in range(3):
        Transfer.objects.create(
            chain_id=CHAIN, block_number=10 + i, tx_hash=f"0x{i:064x}", log_index=i, timestamp=NOW - timedelta(hours=i),
            token=alpha, from_address=address(0xA11CE00001).lower(), to_address=address(0xB0B0000002), value=2**200 + i,
            kind="transfer", usd_value=50_000.0, is_whale=i != 1,
        )  # fmt: skip
    Anomaly.objects.create(token=alpha, at=NOW - timedelta(hours=2), kind="volume_spike", score=9.5, reason="volume 9x")
    DataPointValue.objects.create(token=alpha, interval="1h", name="ret_1h", value=0.01, at=NOW)
    DataPointValue.objects.create(token=alpha, interval="1h", name="ret_4h", value=None, at=NOW)
    dex = Dex.objects.create(chain_id=CHAIN, name="uni", factory=address(0xFAC7000001))
    for n, symbol in enumerate(["ALPHA", "BETA"], start=1):
        pool = Pool.objects.create(
            chain_id=CHAIN, address=address(0x9001000000 + n), dex=dex, token0=tokens[symbol], token1=quote,
            created_block=1, tvl_usd=120_000.0,
        )  # fmt: skip
        PoolSnapshot.objects.create(pool=pool, hour=NOW, reserve0=1, reserve1=1, tvl_usd=120_000.0)
        PoolSnapshot.objects.create(
            pool=pool, hour=NOW - timedelta(hours=30), reserve0=1, reserve1=1, tvl_usd=100_000.0
        )
    return Market(tokens, quote)


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db) -> User:
    return persona_make("alice")


@pytest.fixture
def bob(db) -> User:
    return persona_make("bob")


def key_make(user: User, plan: str = ApiKey.Plan.FREE, name: str = "bot") -> tuple[ApiKey, str]:
    key, secret = ApiKey.objects.create_key(owner=user, name=name, plan=plan)
    return cast(ApiKey, key), secret


@pytest.fixture
def alice_key(alice: User) -> str:
    return key_make(alice)[1]


@pytest.fixture
def api(alice_key: str) -> APIClient:
    """Alice's program, calling with her API key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {alice_key}")
    return client


@pytest.fixture
def alice_session(alice: User) -> APIClient:
    client = APIClient()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_session(bob: User) -> APIClient:
    client = APIClient()
    client.force_login(bob)
    return client
