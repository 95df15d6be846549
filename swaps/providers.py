"""Where quotes come from: the local router, or an external aggregator behind the same shape.

A provider answers ``quote(...)`` and ``build(...)`` with the JSON the API returns (0x Swap
API v2 field names), so the widget does not care who routed. ``SWAP_PROVIDERS`` lists the
enabled ones; ``local`` is always first and the default.

:class:`ZeroExProvider` calls ``GET {ZEROEX_API_URL}/swap/allowance-holder/quote`` with the
``0x-api-key`` and ``0x-version: v2`` headers and maps the documented response
(``buyAmount``, ``minBuyAmount``, ``route.fills[].proportionBps``, ``issues.allowance``,
``transaction{to,data,value,gas,gasPrice}``, ``tokenMetadata``...) onto ours. Whatever
transaction it returns is still simulated here with ``eth_call`` before it is handed out,
and must pay the taker: the same rule as local builds.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import requests
from django.conf import settings
from web3 import Web3

from market.rpc import RpcError
from swaps import chain as c
from swaps.services import (
    SIMULATION_REVERTED,
    SwapError,
    swap_build,
    swap_quote,
    swap_quote_get,
)

PROVIDER_FAILED = "the {name} aggregator failed: {error}"
PROVIDER_NO_LIQUIDITY = "the {name} aggregator has no liquidity for this trade"
PROVIDER_BAD_RESPONSE = "the {name} aggregator answered without {field}"


class SwapProvider(Protocol):
    name: str

    def quote(
        self,
        *,
        chain_id: int,
        sell_token: str,
        buy_token: str,
        sell_amount: int,
        slippage_bps: int | None,
        taker: str | None,
    ) -> dict[str, Any]: ...

    def build(
        self,
        *,
        quote_id: str | None,
        trade: dict[str, Any] | None,
        taker: str,
        unlimited_approval: bool,
        confirm_price_impact: bool,
    ) -> dict[str, Any]: ...


class LocalProvider:
    """Routes over the indexed pools (``swaps.services``)."""

    name = "local"

    def quote(self, *, taker: str | None = None, **trade: Any) -> dict[str, Any]:
        return swap_quote(**trade, taker=taker).as_json()

    def build(
        self,
        *,
        quote_id: str | None,
        trade: dict[str, Any] | None,
        taker: str,
        unlimited_approval: bool = False,
        confirm_price_impact: bool = False,
    ) -> dict[str, Any]:
        quote = swap_quote_get(quote_id=quote_id) if quote_id else swap_quote(**(trade or {}), taker=taker)
        built = swap_build(
            quote=quote, taker=taker, unlimited_approval=unlimited_approval, confirm_price_impact=confirm_price_impact
        )
        return built.as_json()


class ZeroExProvider:
    """0x Swap API v2 (AllowanceHolder flow)."""

    name = "0x"

    def __init__(self, base_url: str | None = None, api_key: str | None = None, timeout: float | None = None) -> None:
        self.base_url = (base_url or settings.ZEROEX_API_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else settings.ZEROEX_API_KEY
        self.timeout = timeout or settings.ZEROEX_TIMEOUT

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        headers = {"0x-version": "v2", "Accept": "application/json"}
        if self.api_key:
            headers["0x-api-key"] = self.api_key
        try:
            response = requests.get(f"{self.base_url}{path}", params=params, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SwapError(
                PROVIDER_FAILED.format(name=self.name, error=exc), code="provider_failed", status=502
            ) from exc
        if response.status_code >= 400:
            detail = response.text[:300]
            status = 400 if response.status_code < 500 else 502
            raise SwapError(PROVIDER_FAILED.format(name=self.name, error=detail), code="provider_failed", status=status)
        return dict(response.json())

    def _params(self, trade: dict[str, Any], taker: str | None) -> dict[str, Any]:
        params = {
            "chainId": trade["chain_id"],
            "sellToken": trade["sell_token"],
            "buyToken": trade["buy_token"],
            "sellAmount": str(trade["sell_amount"]),
            "slippageBps": trade.get("slippage_bps") or settings.SWAP_DEFAULT_SLIPPAGE_BPS,
        }
        if taker:
            params["taker"] = taker
        return params

    def normalise(self, raw: dict[str, Any], *, chain_id: int, slippage_bps: int) -> dict[str, Any]:
        """The 0x v2 answer in our shape (addresses checksummed, amounts as strings)."""
        if not raw.get("liquidityAvailable", False):
            raise SwapError(PROVIDER_NO_LIQUIDITY.format(name=self.name), code="no_route", field="buyToken", status=422)
        for key in ("buyAmount", "minBuyAmount", "sellAmount", "sellToken", "buyToken"):
            if key not in raw:
                raise SwapError(
                    PROVIDER_BAD_RESPONSE.format(name=self.name, field=key), code="provider_failed", status=502
                )

        def addr(value: Any) -> Any:
            return Web3.to_checksum_address(value) if isinstance(value, str) and value.startswith("0x") else value

        issues = raw.get("issues") or {}
        allowance = issues.get("allowance")
        balance = issues.get("balance")
        route = raw.get("route") or {}
        fills = [
            {
                "from": addr(f.get("from")),
                "to": addr(f.get("to")),
                "source": f.get("source", ""),
                "pool": None,
                "feeBps": None,
                "proportionBps": str(f.get("proportionBps", "0")),
            }
            for f in route.get("fills", [])
        ]
        tokens = [
            {"address": addr(t.get("address")), "symbol": t.get("symbol", "")}
            if isinstance(t, dict)
            else {"address": addr(t), "symbol": ""}
            for t in route.get("tokens", [])
        ]
        tx = raw.get("transaction") or {}
        gas = raw.get("gas") or tx.get("gas")
        gas_price = raw.get("gasPrice") or tx.get("gasPrice")
        meta = raw.get("tokenMetadata") or {}

        def tax(side: str) -> dict[str, Any]:
            m = meta.get(side) or {}
            return {
                "buyTaxBps": str(m.get("buyTaxBps", "0")),
                "sellTaxBps": str(m.get("sellTaxBps", "0")),
                "honeypot": False,
                "simulated": True,
                "reason": None,
            }

        body = {
            "quoteId": raw.get("zid") or "",
            "zid": raw.get("zid") or "",
            "provider": self.name,
            "chainId": chain_id,
            "blockNumber": str(raw.get("blockNumber", "")),
            "expiresAt": int(time.time()) + settings.SWAP_QUOTE_TTL,
            "liquidityAvailable": True,
            "sellToken": addr(raw["sellToken"]),
            "buyToken": addr(raw["buyToken"]),
            "sellAmount": str(raw["sellAmount"]),
            "buyAmount": str(raw["buyAmount"]),
            "minBuyAmount": str(raw["minBuyAmount"]),
            "slippageBps": slippage_bps,
            "priceImpactBps": None,  # 0x v2 does not report one
            "route": {"kind": "split" if len(fills) > 1 else "single", "fills": fills, "tokens": tokens},
            "gas": str(gas) if gas is not None else None,
            "gasPrice": str(gas_price) if gas_price is not None else None,
            "totalNetworkFee": str(raw.get("totalNetworkFee")) if raw.get("totalNetworkFee") is not None else None,
            "networkFeeUsd": None,
            "allowanceTarget": addr(raw.get("allowanceTarget")),
            "taker": None,
            "issues": {
                "allowance": {"actual": str(allowance["actual"]), "spender": addr(allowance["spender"])}
                if allowance
                else None,
                "balance": {
                    "token": addr(balance.get("token")),
                    "actual": str(balance["actual"]),
                    "expected": str(balance["expected"]),
                }
                if balance
                else None,
                "priceImpact": None,
                "simulationIncomplete": bool(issues.get("simulationIncomplete", False)),
                "invalidSourcesPassed": list(issues.get("invalidSourcesPassed", [])),
            },
            "tokenMetadata": {"sellToken": tax("sellToken"), "buyToken": tax("buyToken")},
            "fees": raw.get("fees") or {"integratorFee": None, "zeroExFee": None, "gasFee": None},
            "reserves": "external",
        }
        if tx:
            body["transaction"] = {
                "to": addr(tx["to"]),
                "data": tx["data"],
                "value": str(tx.get("value", "0")),
                "gas": str(tx.get("gas", gas or "")),
                "gasPrice": str(tx.get("gasPrice", gas_price or "")),
            }
        return body

    def quote(self, *, taker: str | None = None, **trade: Any) -> dict[str, Any]:
        raw = self._get("/swap/allowance-holder/price", self._params(trade, taker))
        slippage = trade.get("slippage_bps") or settings.SWAP_DEFAULT_SLIPPAGE_BPS
        body = self.normalise(raw, chain_id=trade["chain_id"], slippage_bps=slippage)
        body["taker"] = taker
        return body

    def build(
        self,
        *,
        quote_id: str | None,
        trade: dict[str, Any] | None,
        taker: str,
        unlimited_approval: bool = False,
        confirm_price_impact: bool = False,
    ) -> dict[str, Any]:
        if trade is None:
            raise SwapError("an aggregator build needs the trade, not a quoteId", code="invalid", field="trade")
        raw = self._get("/swap/allowance-holder/quote", self._params(trade, taker))
        slippage = trade.get("slippage_bps") or settings.SWAP_DEFAULT_SLIPPAGE_BPS
        body = self.normalise(raw, chain_id=trade["chain_id"], slippage_bps=slippage)
        if "transaction" not in body:
            raise SwapError(
                PROVIDER_BAD_RESPONSE.format(name=self.name, field="transaction"), code="provider_failed", status=502
            )
        if int(body["minBuyAmount"]) <= 0:
            raise SwapError(
                PROVIDER_BAD_RESPONSE.format(name=self.name, field="a positive minBuyAmount"),
                code="provider_failed",
                status=502,
            )
        tx = {**body["transaction"], "from": taker}
        body["taker"] = taker
        body["recipient"] = taker
        allowance = body["issues"]["allowance"]
        body["approval"] = None
        if allowance and body["sellToken"] != c.NATIVE:
            amount = c.MAX_UINT256 if unlimited_approval else int(body["sellAmount"])
            body["approval"] = {
                "from": taker,
                "to": body["sellToken"],
                "data": c.encode_call("approve(address,uint256)", [allowance["spender"], amount]),
                "value": "0",
                "gas": "60000",
                "amount": str(amount),
            }
        rpc = c.rpc_for()
        call = {"from": taker, "to": tx["to"], "data": tx["data"], "value": hex(int(tx["value"] or 0))}
        overrides: dict[str, Any] = {}
        status = "success"
        if body["approval"]:
            _, slot = c.token_slots(rpc, trade["chain_id"], body["sellToken"])
            if slot is None:
                status = "after_approval"
            else:
                key = c.allowance_storage_key(taker, allowance["spender"], slot)
                overrides = {body["sellToken"]: {"stateDiff": {key: c.word_hex(int(body["sellAmount"]))}}}
        if status == "success":
            try:
                rpc.call("eth_call", [call, "latest", overrides] if overrides else [call, "latest"])
            except RpcError as exc:
                raise SwapError(
                    SIMULATION_REVERTED.format(block="latest", reason=c.revert_message(exc)),
                    code="simulation_reverted",
                    status=422,
                ) from exc
        body["transaction"] = tx
        body["simulation"] = {"status": status, "stateOverride": "allowance" if overrides else None}
        return body


def provider_for(name: str | None) -> SwapProvider:
    """The enabled provider called ``name`` (default: local)."""
    name = name or "local"
    if name not in settings.SWAP_PROVIDERS and name != "local":
        raise SwapError(f"provider {name!r} is not enabled", code="invalid", field="provider")
    if name == "0x":
        return ZeroExProvider()
    return LocalProvider()
