"""Request and response shapes of the swap API (0x Swap API v2 field names).

Request serializers check form (addresses, digits, ranges); the rules about tokens,
liquidity and balances live in ``swaps.services``. Response serializers document the
answer for OpenAPI; the views return the service's JSON as is.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework import serializers
from web3 import Web3

from swaps.chain import NATIVE

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
ADDRESS_MALFORMED = "must be a 0x-prefixed 20-byte hex address, got {value!r}"
ADDRESS_NOT_CHECKSUMMED = "must be EIP-55 checksummed: did you mean {checksummed}?"
AMOUNT_FORMAT = "must be a positive integer in base units, as a string of digits"
PROVIDER_DISABLED = "provider {value!r} is not enabled here; use one of {enabled}"


class AddressField(serializers.CharField):
    """A checksummed address; ``allow_native`` also takes ``ETH`` (or 0xEeee...) for native ETH."""

    def __init__(self, *, allow_native: bool = False, allow_lowercase: bool = False, **kwargs: Any) -> None:
        self.allow_native = allow_native
        # Wallets hand out all-lowercase accounts (EIP-55: "no checksum"); a mixed-case
        # address with a wrong checksum is a typo and is always refused.
        self.allow_lowercase = allow_lowercase
        kwargs.setdefault("max_length", 42)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data).strip()
        if self.allow_native and (value.upper() == "ETH" or value.lower() == NATIVE.lower()):
            return NATIVE
        if not ADDRESS_RE.match(value):
            raise serializers.ValidationError(ADDRESS_MALFORMED.format(value=value))
        if self.allow_lowercase and value[2:] == value[2:].lower():
            return Web3.to_checksum_address(value)
        if not Web3.is_checksum_address(value):
            raise serializers.ValidationError(
                ADDRESS_NOT_CHECKSUMMED.format(checksummed=Web3.to_checksum_address(value))
            )
        return value


class BaseUnitsField(serializers.CharField):
    """A non-negative integer amount in base units, sent as a string of digits."""

    def to_internal_value(self, data: Any) -> int:
        text = super().to_internal_value(data).strip()
        if not re.fullmatch(r"[0-9]{1,78}", text):
            raise serializers.ValidationError(AMOUNT_FORMAT)
        return int(text)


class TradeSerializer(serializers.Serializer):
    chainId = serializers.IntegerField(required=False, min_value=1, help_text="defaults to the site's chain")
    sellToken = AddressField(allow_native=True, help_text="ERC-20 address, or ETH / 0xEeee…EEeE for native ETH")
    buyToken = AddressField(allow_native=True, help_text="ERC-20 address, or ETH / 0xEeee…EEeE for native ETH")
    sellAmount = BaseUnitsField(help_text="amount of sellToken in its base units")
    slippageBps = serializers.IntegerField(
        required=False, help_text="basis points between minBuyAmount and buyAmount; default 50 (0.5%)"
    )
    provider = serializers.CharField(required=False, help_text='"local" (default) or an enabled aggregator ("0x")')

    def validate_provider(self, value: str) -> str:
        if value not in settings.SWAP_PROVIDERS:
            raise serializers.ValidationError(PROVIDER_DISABLED.format(value=value, enabled=settings.SWAP_PROVIDERS))
        return value


class QuoteRequestSerializer(TradeSerializer):
    taker = AddressField(
        required=False,
        allow_lowercase=True,
        help_text="wallet that will sign (checksummed or all lowercase); enables balance and allowance checks",
    )


class BuildRequestSerializer(serializers.Serializer):
    quoteId = serializers.CharField(required=False, max_length=64, help_text="id of a quote still within expiresAt")
    taker = AddressField(allow_lowercase=True, help_text="signs the transaction and receives the tokens")
    approval = serializers.ChoiceField(
        choices=["exact", "unlimited"], default="exact", help_text="approve exactly sellAmount, or unlimited"
    )
    confirmPriceImpact = serializers.BooleanField(default=False, help_text="required above 10% price impact")
    trade = TradeSerializer(required=False, help_text="quote and build in one step when quoteId is absent")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("quoteId") and not attrs.get("trade"):
            raise serializers.ValidationError({"quoteId": ["give a quoteId, or the trade to quote and build"]})
        return attrs


# --- Response documentation ----------------------------------------------------------------


class FillSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="DEX name")
    pool = serializers.CharField()
    feeBps = serializers.CharField()
    proportionBps = serializers.CharField(help_text="share of sellAmount through this fill")
    # "from"/"to" are Python keywords: declared below.


FillSerializer._declared_fields["from"] = serializers.CharField()
FillSerializer._declared_fields["to"] = serializers.CharField()


class RouteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["single", "split"])
    fills = FillSerializer(many=True)
    tokens = serializers.ListField(child=serializers.DictField())


class AllowanceIssueSerializer(serializers.Serializer):
    actual = serializers.CharField()
    spender = serializers.CharField()


class BalanceIssueSerializer(serializers.Serializer):
    token = serializers.CharField()
    actual = serializers.CharField()
    expected = serializers.CharField()


class IssuesSerializer(serializers.Serializer):
    allowance = AllowanceIssueSerializer(allow_null=True)
    balance = BalanceIssueSerializer(allow_null=True)
    priceImpact = serializers.DictField(allow_null=True, help_text='{"bps", "level": "warning" | "confirm"}')
    simulationIncomplete = serializers.BooleanField()
    invalidSourcesPassed = serializers.ListField(child=serializers.CharField())


class TokenMetaSerializer(serializers.Serializer):
    buyTaxBps = serializers.CharField()
    sellTaxBps = serializers.CharField()
    honeypot = serializers.BooleanField()
    simulated = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)


class TokenMetadataSerializer(serializers.Serializer):
    sellToken = TokenMetaSerializer()
    buyToken = TokenMetaSerializer()


class QuoteResponseSerializer(serializers.Serializer):
    quoteId = serializers.CharField()
    zid = serializers.CharField()
    provider = serializers.CharField()
    chainId = serializers.IntegerField()
    blockNumber = serializers.CharField()
    expiresAt = serializers.IntegerField(help_text="unix seconds")
    liquidityAvailable = serializers.BooleanField()
    sellToken = serializers.CharField()
    buyToken = serializers.CharField()
    sellAmount = serializers.CharField()
    buyAmount = serializers.CharField(help_text="expected, after the buy token's tax")
    minBuyAmount = serializers.CharField(help_text="buyAmount less slippage; the transaction reverts below it")
    slippageBps = serializers.IntegerField()
    priceImpactBps = serializers.CharField(help_text="shortfall against the mid price, LP fees excluded")
    route = RouteSerializer()
    gas = serializers.CharField()
    gasPrice = serializers.CharField(help_text="wei")
    totalNetworkFee = serializers.CharField(help_text="wei")
    networkFeeUsd = serializers.FloatField(allow_null=True)
    allowanceTarget = serializers.CharField(allow_null=True)
    taker = serializers.CharField(allow_null=True)
    issues = IssuesSerializer()
    tokenMetadata = TokenMetadataSerializer()
    fees = serializers.DictField()
    reserves = serializers.ChoiceField(choices=["latest", "indexed"])


class TransactionSerializer(serializers.Serializer):
    to = serializers.CharField()
    data = serializers.CharField()
    value = serializers.CharField(help_text="wei")
    gas = serializers.CharField()
    gasPrice = serializers.CharField(required=False)
    chainId = serializers.CharField(required=False)


TransactionSerializer._declared_fields["from"] = serializers.CharField()


class BuildResponseSerializer(QuoteResponseSerializer):
    transaction = TransactionSerializer()
    approval = TransactionSerializer(allow_null=True, help_text="send and confirm first when present")
    simulation = serializers.DictField(help_text='{"status": "success" | "after_approval", "block", "stateOverride"}')
    deadline = serializers.IntegerField(help_text="unix seconds; the swap reverts after it")
    recipient = serializers.CharField()
    expectedBuyAmountNow = serializers.CharField()
