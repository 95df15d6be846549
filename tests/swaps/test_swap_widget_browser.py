"""The widget in headless Chromium with an injected EIP-1193 wallet backed by a local-chain key.

The wallet starts on the wrong chain (1), so the widget must ask to switch; it signs
``eth_sendTransaction`` in Python with the test key and sends the raw transaction to the
test anvil, and forwards reads there. The test buys ALPHA with USDC on ``/swap/``: connect,
switch network, quote, approve (exact), swap, and the balance change is checked on-chain.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest
from web3 import Web3

from chain.contracts import contract_at
from tests.swaps.conftest import SwapMarket, balance_of

pytestmark = [pytest.mark.browser, pytest.mark.chain, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"

WALLET_JS = """
(() => {
  const listeners = {};
  window.ethereum = {
    isLocalChainWallet: true,
    on(event, fn) { (listeners[event] = listeners[event] || []).push(fn); },
    removeListener(event, fn) { listeners[event] = (listeners[event] || []).filter((f) => f !== fn); },
    async request({ method, params }) {
      const reply = JSON.parse(await window.__walletRequest(method, JSON.stringify(params || [])));
      if (reply.error) { const err = new Error(reply.error.message); err.code = reply.error.code; throw err; }
      if (reply.event) for (const fn of listeners[reply.event.name] || []) fn(reply.event.data);
      return reply.result;
    },
  };
})();
"""


def ensure_chromium() -> str:
    """The system Chromium; installed with apt when missing (idempotent), never downloaded."""
    if not os.path.exists(CHROMIUM) and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, capture_output=True, timeout=600)
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)
    return CHROMIUM


class LocalChainWallet:
    def __init__(self, world: SwapMarket, account: Any) -> None:
        self.w3: Web3 = world.w3
        self.account = account
        self.chain_id = 1  # wrong on purpose
        self.sent: list[str] = []

    def handle(self, method: str, params_json: str) -> str:
        params = json.loads(params_json)
        try:
            return json.dumps(self._handle(method, params))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the page as a JSON-RPC error
            return json.dumps({"error": {"code": -32603, "message": str(exc)}})

    def _handle(self, method: str, params: list[Any]) -> dict[str, Any]:
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [self.account.address.lower()]}  # lowercase, as real wallets answer
        if method == "eth_chainId":
            return {"result": hex(self.chain_id)}
        if method == "wallet_switchEthereumChain":
            self.chain_id = int(params[0]["chainId"], 16)
            return {"result": None, "event": {"name": "chainChanged", "data": hex(self.chain_id)}}
        if method == "eth_sendTransaction":
            tx = params[0]
            signed = self.account.sign_transaction(
                {
                    "to": Web3.to_checksum_address(tx["to"]),
                    "data": tx["data"],
                    "value": int(tx.get("value", "0x0"), 16),
                    "gas": int(tx["gas"], 16),
                    "gasPrice": self.w3.eth.gas_price,
                    "nonce": self.w3.eth.get_transaction_count(self.account.address),
                    "chainId": self.w3.eth.chain_id,
                }
            )
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()
            self.sent.append(tx_hash)
            return {"result": tx_hash}
        reply = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in reply:
            return {"error": reply["error"]}
        return {"result": reply["result"]}


@pytest.mark.django_db(transaction=True)
def test_widget_approves_swaps_and_shows_the_new_balance(
    swap_world: SwapMarket, live_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM work stays in the
    # live server's thread, the fixtures' work happened before the loop started.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    m = swap_world.market
    alpha = m.tokens["ALPHA"]
    account = swap_world.funded_account(41, usdc=500 * 10**6)
    wallet = LocalChainWallet(swap_world, account)
    before = balance_of(m.w3, alpha, account.address)
    # A moonshot pick of ALPHA, so the flow starts where users start it: Buy on the tab.
    from django.utils import timezone

    from market.models import Token
    from moonshots.models import Moonshot

    token = Token.objects.get(chain_id=m.chain_id, address=alpha)
    Moonshot.objects.create(
        token=token,
        chain_id=m.chain_id,
        entered_at=timezone.now(),
        entry_price_usd=token.price_usd or 1.0,
        entry_market_cap_usd=1e6,
        entry_trader_grade=70.0,
        score=80.0,
        model_version="moonshot-rules-v1",
        model_parameters={},
        reasons=["whale accumulation"],
        exit_grade_below=40.0,
        stop_loss_pct=25.0,
        take_profit_pct=100.0,
        max_holding_hours=168.0,
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=ensure_chromium(), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            csp_violations: list[str] = []  # the site's Content-Security-Policy must not block anything
            page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
            page.expose_function("__walletRequest", wallet.handle)
            page.add_init_script(WALLET_JS)
            page.goto(f"{live_server.url}/ratings/?tab=moonshots")
            page.click(f'a[data-testid="buy"][href*="{alpha}"]')
            page.wait_for_url(f"**/swap/?buy={alpha}")
            expect(page.locator("[data-buy-symbol]")).to_have_text("ALPHA")
            page.click("[data-connect]")
            expect(page.locator("[data-status]")).to_contain_text("Wrong network")
            page.click("[data-switch]")
            expect(page.locator("[data-status]")).to_contain_text("Network switched")
            page.select_option("[data-pay]", label="USDC")
            page.fill("[data-amount]", "250")
            expect(page.locator("[data-quote]")).to_contain_text("ALPHA", timeout=15_000)
            expect(page.locator("[data-route]")).not_to_be_empty()
            expect(page.locator("[data-swap]")).to_contain_text("Approve USDC and swap")
            page.click("[data-swap]")
            expect(page.locator("[data-balance]")).to_contain_text("Received", timeout=60_000)
            expect(page.locator("[data-tx-state]")).to_contain_text("confirmed")
            expect(page.locator("[data-status]")).to_have_text("Swap confirmed.")
            assert not csp_violations, csp_violations
        finally:
            browser.close()
    assert len(wallet.sent) == 2  # the approval, then the swap
    assert balance_of(m.w3, alpha, account.address) > before
    assert balance_of(m.w3, m.usdc, account.address) == 250 * 10**6
    usdc = contract_at(m.w3, "openzeppelin:IERC20", m.usdc)
    approvals = [m.w3.eth.get_transaction_receipt(h) for h in wallet.sent]
    assert all(r["status"] == 1 for r in approvals)
    assert usdc.functions.allowance(account.address, approvals[0]["to"]).call() == 0  # exact approval, used up
