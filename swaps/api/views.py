"""``GET /api/v1/swap/quote`` and ``POST /api/v1/swap/build``: thin HTTP over swaps.services."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.metrics import swap_outcome
from swaps.api.serializers import (
    BuildRequestSerializer,
    BuildResponseSerializer,
    QuoteRequestSerializer,
    QuoteResponseSerializer,
)
from swaps.providers import provider_for

ERROR = OpenApiResponse(description='{"error": {"status", "code", "message", "fields": {param: [messages]}}}')


def _trade(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "chain_id": data.get("chainId") or settings.CHAIN_ID,
        "sell_token": data["sellToken"],
        "buy_token": data["buyToken"],
        "sell_amount": data["sellAmount"],
        "slippage_bps": data.get("slippageBps"),
    }


class SwapQuoteView(APIView):
    throttle_scope = "swap_quote"

    @extend_schema(
        operation_id="swap_quote",
        summary="Price a swap across the indexed DEX pools",
        parameters=[QuoteRequestSerializer],
        responses={200: QuoteResponseSerializer, 400: ERROR, 422: ERROR, 429: ERROR, 503: ERROR},
    )
    def get(self, request: Request) -> Response:
        form = QuoteRequestSerializer(data=request.query_params)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        provider = provider_for(data.get("provider"))
        with swap_outcome("quote", provider.name):
            return Response(provider.quote(**_trade(data), taker=data.get("taker")))


class SwapBuildView(APIView):
    throttle_scope = "swap_build"

    @extend_schema(
        operation_id="swap_build",
        summary="Build the approval and swap transactions for a quote, simulated",
        request=BuildRequestSerializer,
        responses={200: BuildResponseSerializer, 400: ERROR, 409: ERROR, 422: ERROR, 429: ERROR, 503: ERROR},
    )
    def post(self, request: Request) -> Response:
        form = BuildRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        trade = data.get("trade")
        provider = provider_for(trade.get("provider") if trade else None)
        with swap_outcome("build", provider.name):
            body = provider.build(
                quote_id=data.get("quoteId"),
                trade=_trade(trade) if trade else None,
                taker=data["taker"],
                unlimited_approval=data["approval"] == "unlimited",
                confirm_price_impact=data["confirmPriceImpact"],
            )
        return Response(body)
