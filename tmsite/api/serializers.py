"""Shapes of the public API. Times are ISO-8601 UTC (``...Z``), uint256 amounts strings of
digits, addresses EIP-55 checksummed; USD figures and grades are JSON numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from web3 import Web3

from ratings.models import GradeInterval, RiskFlag, Signal
from tmsite.api.models import ApiKey

EXAMPLE_ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN_ID_MAX = 2**31 - 1  # the column's range on every database


@extend_schema_field({"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$", "example": EXAMPLE_ADDRESS})
class AddressOut(serializers.CharField):
    def to_representation(self, value: Any) -> str:
        return Web3.to_checksum_address(value)


@extend_schema_field({"type": "string", "pattern": "^[0-9]+$", "example": "1000000000000000000000000"})
class Uint256Out(serializers.CharField):
    def to_representation(self, value: Any) -> str:
        return str(int(value))


def _example(name: str, value: Any) -> Any:
    """The answer's example in the schema (lists and cursor pages are built around it)."""
    return extend_schema_serializer(examples=[OpenApiExample(name, value=value, response_only=True)])


T0 = "2026-01-03T09:00:00Z"
TOKEN_EXAMPLE = {
    "chain_id": 31337,
    "address": EXAMPLE_ADDRESS,
    "symbol": "ALPHA",
    "name": "Alpha",
    "decimals": 18,
    "total_supply": "1000000000000000000000000",
    "price_usd": 1.27,
    "market_cap_usd": 1270000.0,
    "volume_24h_usd": 84000.0,
    "liquidity_usd": 310000.0,
    "holder_count": 412,
    "price_change_24h": 3.1,
    "price_change_7d": -4.2,
    "trader_grade": 71.4,
    "investor_grade": 58.2,
    "overall_grade": 64.8,
    "trader_grade_change_24h": 5.2,
    "investor_grade_change_7d": -1.0,
    "signal": "bullish",
    "signal_since": "2026-01-02T13:00:00Z",
    "risk_flags": [],
    "model_version": "rules-v0",
    "as_of": "2026-01-03T09:00:00Z",
    "computed_at": "2026-01-03T09:04:11Z",
}


def _rating(name: str, field: type[serializers.Field] = serializers.FloatField, **kw: Any) -> serializers.Field:
    return field(source=f"rating.{name}", read_only=True, allow_null=True, **kw)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A rated token",
            value=TOKEN_EXAMPLE,
        )
    ]
)
class TokenSerializer(serializers.Serializer):
    chain_id = serializers.IntegerField()
    address = AddressOut()
    symbol = serializers.CharField()
    name = serializers.CharField()
    decimals = serializers.IntegerField(allow_null=True)
    total_supply = Uint256Out(allow_null=True, help_text="base units")
    price_usd = serializers.FloatField(allow_null=True)
    market_cap_usd = _rating("market_cap_usd", help_text="fully diluted")
    volume_24h_usd = _rating("volume_24h_usd")
    liquidity_usd = serializers.FloatField(help_text="USD, both sides of every priced pool")
    holder_count = serializers.IntegerField()
    price_change_24h = _rating("price_change_24h", help_text="percent")
    price_change_7d = _rating("price_change_7d", help_text="percent")
    trader_grade = _rating("trader_grade", help_text="0-100, short horizon")
    investor_grade = _rating("investor_grade", help_text="0-100, long horizon")
    overall_grade = _rating("overall_grade", help_text="0-100")
    trader_grade_change_24h = _rating("trader_grade_change_24h", help_text="grade points")
    investor_grade_change_7d = _rating("investor_grade_change_7d", help_text="grade points")
    signal = _rating("signal", serializers.ChoiceField, choices=Signal.choices)
    signal_since = _rating("signal_since", serializers.DateTimeField)
    risk_flags = serializers.ListField(
        source="rating.risk_flags", child=serializers.CharField(), read_only=True, allow_null=True
    )
    model_version = _rating("model_version", serializers.CharField)
    as_of = _rating("as_of", serializers.DateTimeField, help_text="market hour the rating describes")
    computed_at = _rating("computed_at", serializers.DateTimeField)


@_example(
    "A rated token",
    {
        **TOKEN_EXAMPLE,
        "top_contributions": [
            {"name": "whale_net_flow_24h", "label": "Whale net flow 24h", "value": 0.031, "contribution": 6.2}
        ],
    },
)
class TokenDetailSerializer(TokenSerializer):
    top_contributions = serializers.ListField(
        source="rating.top_contributions", child=serializers.DictField(), read_only=True, allow_null=True
    )


# The token list and detail are the API's hottest answers. They are described by the two
# serializers above (schema, examples) but built from ``values()`` rows by ``token_out``, which
# gives the same JSON without DRF's per-field machinery (~6 ms for a page of 50 tokens through
# the serializer, well under 1 ms here); tests/api/test_tokens.py checks the two agree.
_TOKEN_COLUMNS = ["chain_id", "address", "symbol", "name", "decimals", "total_supply", "price_usd"]
_RATING_COLUMNS = [
    "market_cap_usd",
    "volume_24h_usd",
    "price_change_24h",
    "price_change_7d",
    "trader_grade",
    "investor_grade",
    "overall_grade",
    "trader_grade_change_24h",
    "investor_grade_change_7d",
    "signal",
    "signal_since",
    "risk_flags",
    "model_version",
    "as_of",
    "computed_at",
]
TOKEN_VALUES = [*_TOKEN_COLUMNS, "liquidity_usd", "holder_count", *(f"rating__{name}" for name in _RATING_COLUMNS)]
TOKEN_DETAIL_VALUES = [*TOKEN_VALUES, "rating__top_contributions"]
TOKEN_TIMES = ("rating__signal_since", "rating__as_of", "rating__computed_at")
_TIMES = {column: column.removeprefix("rating__") + "_text" for column in TOKEN_TIMES}


ZERO = timedelta(0)


@lru_cache(maxsize=65_536)
def _checksummed(address: str) -> str:
    return Web3.to_checksum_address(address)


def _iso(value: datetime | None) -> str | None:
    """DRF's DateTimeField output: ISO-8601 in UTC with a ``Z``."""
    if value is None:
        return None
    text = (value if value.utcoffset() == ZERO else value.astimezone(UTC)).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _flags_from_text(text: str | None) -> list[str] | None:
    return None if text is None else orjson.loads(text)


def token_out(row: dict[str, Any]) -> dict[str, Any]:
    """``TokenSerializer``'s (or, with ``rating__top_contributions``, ``TokenDetailSerializer``'s)
    answer from a ``values(*TOKEN_VALUES)`` row; rating fields are null for an unrated token."""
    supply = row["total_supply"]
    # jsonb as text, parsed by orjson (Django's JSONField parses with the standard library's)
    flags = row["rating__risk_flags"] if "rating__risk_flags" in row else _flags_from_text(row["risk_flags_text"])
    out = {
        "chain_id": row["chain_id"],
        "address": _checksummed(row["address"]),
        "symbol": row["symbol"],
        "name": row["name"],
        "decimals": row["decimals"],
        "total_supply": None if supply is None else str(int(supply)),
        "price_usd": row["price_usd"],
        "market_cap_usd": row["rating__market_cap_usd"],
        "volume_24h_usd": row["rating__volume_24h_usd"],
        "liquidity_usd": row["liquidity_usd"],
        "holder_count": row["holder_count"],
    }
    for name in _RATING_COLUMNS[2:]:
        column = "rating__" + name
        if name == "risk_flags":
            out[name] = None  # its place in the answer; set below
            continue
        if column not in _TIMES:
            out[name] = row[column]
        elif column in row:
            out[name] = _iso(row[column])
        else:  # formatted by the database (selectors.tokens_rated_rows)
            out[name] = row[_TIMES[column]]
    out["risk_flags"] = None if flags is None else [str(flag) for flag in flags]
    if "rating__top_contributions" in row:
        out["top_contributions"] = row["rating__top_contributions"]
    return out


@_example(
    "Current grades",
    {
        "trader_grade": 71.4,
        "investor_grade": 58.2,
        "overall_grade": 64.8,
        "trader_grade_change_24h": 5.2,
        "trader_grade_change_7d": 9.9,
        "investor_grade_change_24h": 0.4,
        "investor_grade_change_7d": -1.0,
        "top_contributions": [
            {"name": "whale_net_flow_24h", "label": "Whale net flow 24h", "value": 0.031, "contribution": 6.2}
        ],
        "model_version": "rules-v0",
        "as_of": T0,
        "computed_at": "2026-01-03T09:04:11Z",
    },
)
class GradesSerializer(serializers.Serializer):
    trader_grade = serializers.FloatField()
    investor_grade = serializers.FloatField()
    overall_grade = serializers.FloatField()
    trader_grade_change_24h = serializers.FloatField(allow_null=True)
    trader_grade_change_7d = serializers.FloatField(allow_null=True)
    investor_grade_change_24h = serializers.FloatField(allow_null=True)
    investor_grade_change_7d = serializers.FloatField(allow_null=True)
    top_contributions = serializers.ListField(child=serializers.DictField())
    model_version = serializers.CharField()
    as_of = serializers.DateTimeField(allow_null=True)
    computed_at = serializers.DateTimeField()


@_example(
    "An hourly grade",
    {
        "at": T0,
        "interval": "1h",
        "trader_grade": 71.4,
        "investor_grade": 58.2,
        "overall_grade": 64.8,
        "model_version": "rules-v0",
    },
)
class GradeHistorySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    interval = serializers.ChoiceField(choices=GradeInterval.choices)
    trader_grade = serializers.FloatField()
    investor_grade = serializers.FloatField()
    overall_grade = serializers.FloatField()
    model_version = serializers.CharField()


@_example(
    "A flip to bullish",
    {
        "at": "2026-01-02T13:00:00Z",
        "signal": "bullish",
        "signal_value": 1,
        "trader_grade": 68.0,
        "price_usd": 1.12,
        "end_price_usd": 1.27,
        "holding_return": 0.134,
        "signal_return": 0.134,
    },
)
class SignalChangeSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    signal = serializers.ChoiceField(choices=Signal.choices)
    signal_value = serializers.SerializerMethodField(help_text="1 bullish, -1 bearish, 0 neutral")
    trader_grade = serializers.FloatField()
    price_usd = serializers.FloatField(allow_null=True, help_text="close at the flip")
    end_price_usd = serializers.SerializerMethodField(help_text="at the next flip, or now for the current signal")
    holding_return = serializers.SerializerMethodField(help_text="fraction, price change while this signal held")
    signal_return = serializers.SerializerMethodField(help_text="fraction, holding_return x signal_value")

    def _end(self, row: Any) -> float | None:
        return row.end_price if row.end_price is not None else self.context["token"].price_usd

    def get_signal_value(self, row: Any) -> int:
        return {Signal.BULLISH: 1, Signal.BEARISH: -1}.get(row.signal, 0)

    def get_end_price_usd(self, row: Any) -> float | None:
        return self._end(row)

    def get_holding_return(self, row: Any) -> float | None:
        end = self._end(row)
        return None if not row.price_usd or end is None else end / row.price_usd - 1.0

    def get_signal_return(self, row: Any) -> float | None:
        holding = self.get_holding_return(row)
        return None if holding is None else holding * self.get_signal_value(row)


@_example(
    "A candle",
    {
        "time": T0,
        "open": 1.21,
        "high": 1.3,
        "low": 1.19,
        "close": 1.27,
        "volume": 5230.0,
        "volume_usd": 6642.1,
        "buy_volume_usd": 4100.0,
        "trades": 37,
    },
)
class CandleSerializer(serializers.Serializer):
    time = serializers.DateTimeField(source="bucket", help_text="bucket start, UTC")
    open = serializers.FloatField()
    high = serializers.FloatField()
    low = serializers.FloatField()
    close = serializers.FloatField()
    volume = serializers.FloatField(help_text="whole tokens")
    volume_usd = serializers.FloatField()
    buy_volume_usd = serializers.FloatField()
    trades = serializers.IntegerField()


@_example(
    "A data point",
    {
        "name": "ret_24h",
        "label": "Return 24h",
        "family": "price",
        "window": "24h",
        "unit": "fraction",
        "value": 0.031,
    },
)
class DataPointSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    family = serializers.CharField()
    window = serializers.CharField()
    unit = serializers.CharField()
    value = serializers.FloatField(allow_null=True)


@_example("A holder", {"address": EXAMPLE_ADDRESS, "balance": "120000000000000000000000", "share_of_supply": 0.12})
class HolderSerializer(serializers.Serializer):
    address = AddressOut()
    balance = Uint256Out(help_text="base units")
    share_of_supply = serializers.SerializerMethodField(help_text="fraction of total supply")

    def get_share_of_supply(self, row: Any) -> float | None:
        supply = self.context["token"].total_supply
        return row.balance / supply if supply else None


@_example(
    "A whale buy",
    {
        "tx_hash": "0x" + "ab" * 32,
        "log_index": 3,
        "block_number": 18250,
        "timestamp": T0,
        "from_address": EXAMPLE_ADDRESS,
        "to_address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "value": "50000000000000000000000",
        "kind": "buy",
        "usd_value": 63500.0,
    },
)
class WhaleTransferSerializer(serializers.Serializer):
    tx_hash = serializers.CharField()
    log_index = serializers.IntegerField()
    block_number = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    from_address = AddressOut()
    to_address = AddressOut()
    value = Uint256Out(help_text="base units")
    kind = serializers.CharField()
    usd_value = serializers.FloatField(allow_null=True)


@_example(
    "A volume spike",
    {"at": T0, "kind": "volume_spike", "score": 9.5, "reason": "volume 9.5 robust sd above its 7d median"},
)
class AnomalySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    score = serializers.FloatField(help_text="robust z-score")
    reason = serializers.CharField()


@_example(
    "An active flag",
    {
        "code": "thin_liquidity",
        "severity": "medium",
        "detail": "liquidity $8,200 under $10,000",
        "active": True,
        "detected_at": "2026-01-02T10:00:00Z",
        "checked_at": T0,
    },
)
class RiskFlagSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=RiskFlag.Code.choices)
    severity = serializers.ChoiceField(choices=RiskFlag.Severity.choices)
    detail = serializers.CharField()
    active = serializers.BooleanField()
    detected_at = serializers.DateTimeField()
    checked_at = serializers.DateTimeField()


@_example(
    "The market now",
    {
        "chain_id": 31337,
        "as_of": T0,
        "tokens_rated": 412,
        "bullish_share": 0.38,
        "bearish_share": 0.27,
        "total_liquidity_usd": 18250000.0,
        "total_liquidity_usd_24h_ago": 17900000.0,
        "total_liquidity_change_24h": 0.0196,
    },
)
class MarketOverviewSerializer(serializers.Serializer):
    chain_id = serializers.IntegerField()
    as_of = serializers.DateTimeField(allow_null=True, help_text="last hourly pool snapshot")
    tokens_rated = serializers.IntegerField()
    bullish_share = serializers.FloatField(allow_null=True, help_text="fraction of rated tokens with a bullish signal")
    bearish_share = serializers.FloatField(allow_null=True)
    total_liquidity_usd = serializers.FloatField()
    total_liquidity_usd_24h_ago = serializers.FloatField(allow_null=True)
    total_liquidity_change_24h = serializers.FloatField(allow_null=True, help_text="fraction")


class WatchlistItemSerializer(serializers.Serializer):
    added_at = serializers.DateTimeField()
    token = TokenSerializer()


@_example("A watchlist", {"id": 7, "name": "moonshots", "created_at": "2026-01-02T08:00:00Z"})
class WatchlistSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=80)
    created_at = serializers.DateTimeField(read_only=True)


@_example(
    "A watchlist with its tokens",
    {
        "id": 7,
        "name": "moonshots",
        "created_at": "2026-01-02T08:00:00Z",
        "items": [{"added_at": "2026-01-02T08:01:00Z", "token": TOKEN_EXAMPLE}],
    },
)
class WatchlistDetailSerializer(WatchlistSerializer):
    items = serializers.SerializerMethodField()

    @extend_schema_field(WatchlistItemSerializer(many=True))
    def get_items(self, watchlist: Any) -> list[dict]:
        return WatchlistItemSerializer(self.context["items"], many=True).data


class TokenRefSerializer(serializers.Serializer):
    chain_id = serializers.IntegerField(min_value=1, max_value=CHAIN_ID_MAX)
    address = serializers.CharField(max_length=42)


@_example(
    "A key",
    {
        "prefix": "Xj3kq9Pa",
        "name": "trading bot",
        "plan": "free",
        "created": "2026-01-02T08:00:00Z",
        "last_used_at": T0,
        "expiry_date": None,
        "revoked": False,
    },
)
class ApiKeySerializer(serializers.Serializer):
    prefix = serializers.CharField(read_only=True, help_text="identifies the key; the rest is never shown again")
    name = serializers.CharField(max_length=50)
    plan = serializers.ChoiceField(choices=ApiKey.Plan.choices, read_only=True)
    created = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)
    expiry_date = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked = serializers.BooleanField(read_only=True)


@_example(
    "A new key (shown once)",
    {
        "prefix": "Xj3kq9Pa",
        "name": "trading bot",
        "plan": "free",
        "created": "2026-01-02T08:00:00Z",
        "last_used_at": None,
        "expiry_date": None,
        "revoked": False,
        "key": "Xj3kq9Pa.3vQ0ZC2m8r1LwS6yTb4NfKx9Ue7Hd5Jp",
    },
)
class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="the secret; shown once, store it now")


class LimitSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class IntervalSerializer(serializers.Serializer):
    interval = serializers.ChoiceField(choices=GradeInterval.values, default=GradeInterval.HOUR)


class RiskFlagQuerySerializer(serializers.Serializer):
    include_inactive = serializers.BooleanField(default=False)


class ChainQuerySerializer(serializers.Serializer):
    chain_id = serializers.IntegerField(
        min_value=1, max_value=CHAIN_ID_MAX, required=False, help_text="defaults to the site's chain"
    )
