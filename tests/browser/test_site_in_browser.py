"""The site in a real browser: table, token chart, watchlist, e-mail and wallet sign-in."""

from __future__ import annotations

import re

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright.sync_api import expect  # web-first waits: no string eval, which the CSP blocks

from tests.site.factories import candles_make, holder_make, persona_make, rating_make, token_make, whale_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# anvil's first development account (the local chain's funded test key).
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

# A minimal EIP-1193 provider; signing is delegated to Python (eth-account) via expose_function.
PROVIDER = """
window.ethereum = {
  isTest: true,
  request: async ({ method, params }) => {
    if (method === "eth_requestAccounts" || method === "eth_accounts") return [window.__address];
    if (method === "eth_chainId") return "0x7a69";
    if (method === "personal_sign") return await window.tmsiteSign(params[0], params[1]);
    throw Object.assign(new Error("unsupported " + method), { code: 4200 });
  },
};
"""


@pytest.fixture
def market():  # type: ignore[no-untyped-def]
    tokens = {}
    for i, (trader, investor, signal, price, flags) in enumerate(
        [
            (85, 40, "bullish", 2.0, []),
            (20, 90, "bearish", 0.1, ["thin_liquidity"]),
            (55, 55, "neutral", 10.0, []),
            (70, 75, "bullish", 0.8, []),
        ],
        start=1,
    ):
        token = token_make(i, price=price)
        rating_make(token, trader=trader, investor=investor, signal=signal, risk_flags=flags)
        candles_make(token, hours=72, start_price=price)
        whale_make(token, n=3)
        holder_make(token, "0x" + f"{i:x}" * 40, 120_000)
        tokens[token.symbol] = token
    return tokens


def table_symbols(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("table.ratings tbody tr").evaluate_all("rows => rows.map(r => r.dataset.symbol)")


def sign_in_with_email(page, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_selector("text=Sign out")


def test_sort_and_filter_the_ratings_table(page, market, screenshot) -> None:  # type: ignore[no-untyped-def]
    page.goto("/ratings/")
    assert table_symbols(page) == ["TK1", "TK4", "TK3", "TK2"]
    screenshot(page, "ratings")
    page.click("th[data-col=price] a")
    page.wait_for_url(re.compile(r"sort=price"))
    expect(page.locator("table.ratings tbody tr").first).to_have_attribute("data-symbol", "TK3")
    assert table_symbols(page) == ["TK3", "TK1", "TK4", "TK2"]
    page.click("th[data-col=price] a")  # again: ascending
    page.wait_for_url(re.compile(r"dir=asc"))
    expect(page.locator("table.ratings tbody tr").first).to_have_attribute("data-symbol", "TK2")
    page.select_option("#id_signal", "bullish")
    page.wait_for_url(re.compile(r"signal=bullish"))
    expect(page.locator("table.ratings tbody tr")).to_have_count(2)
    assert table_symbols(page) == ["TK4", "TK1"]  # still sorted by price, ascending
    page.fill("#id_q", "TK4")
    page.wait_for_url(re.compile(r"q=TK4"))
    expect(page.locator("table.ratings tbody tr")).to_have_count(1)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "ratings-phone")


def test_open_a_token_and_see_the_chart_drawn(page, market, screenshot) -> None:  # type: ignore[no-untyped-def]
    page.goto("/ratings/")
    page.click("a:text-is('TK1')")
    page.wait_for_url(re.compile(r"/tokens/31337/0x"))
    page.wait_for_selector("#price-chart canvas")
    assert int(page.get_attribute("#price-chart", "data-bars")) == 72
    assert int(page.get_attribute("#grade-chart", "data-points") or 0) == 0  # no grade history rows here
    # The daily bars answer last, after the reader is back on hourly: they must not replace them.
    held = []

    def hold(route):  # type: ignore[no-untyped-def]
        held.append(route)

    page.route(re.compile(r"candles\.json\?interval=1d"), hold)
    page.click("[data-interval='1d']")
    page.wait_for_url(re.compile(r"interval=1d"))
    page.click("[data-interval='1h']")
    expect(page.locator("#price-chart")).to_have_attribute("data-bars", "72")
    assert held, "the daily bars were asked for"
    with page.expect_response(re.compile(r"interval=1d")) as late:
        for route in held:
            route.continue_()
    late.value.finished()
    page.wait_for_timeout(200)  # the page's handler of the late answer has run
    expect(page.locator("#price-chart")).to_have_attribute("data-bars", "72")
    page.unroute(re.compile(r"candles\.json\?interval=1d"))
    screenshot(page, "token")
    page.click("[data-theme-toggle]")
    assert page.get_attribute("html", "data-theme") in ("dark", "light")
    screenshot(page, "token-theme-toggled")


def test_add_a_token_to_the_watchlist(page, market) -> None:  # type: ignore[no-untyped-def]
    persona_make("alice")
    sign_in_with_email(page, "alice@example.com", "alice-pass-12345")
    page.goto("/ratings/")
    page.click("[data-testid=watch-TK3]")
    page.wait_for_selector("[data-testid=watch-TK3][aria-pressed=true]")
    page.goto(f"/tokens/31337/{market['TK2'].address}/")
    page.click("[data-testid=watch-TK2]")
    page.wait_for_selector("[data-testid=watch-TK2][aria-pressed=true]")
    page.goto("/ratings/?tab=watchlist")
    assert sorted(table_symbols(page)) == ["TK2", "TK3"]


def test_sign_in_with_email(page, market, screenshot) -> None:  # type: ignore[no-untyped-def]
    persona_make("bob")
    page.goto("/accounts/login/")
    screenshot(page, "sign-in")
    sign_in_with_email(page, "bob@example.com", "bob-pass-12345")
    assert "Sign out" in page.inner_text("header")


def test_sign_in_with_a_wallet(page, market) -> None:  # type: ignore[no-untyped-def]
    account = Account.from_key(ANVIL_KEY)

    def sign(hex_message: str, address: str) -> str:
        assert address.lower() == account.address.lower()
        signed = Account.sign_message(encode_defunct(hexstr=hex_message), private_key=ANVIL_KEY)
        return "0x" + signed.signature.hex().removeprefix("0x")

    page.expose_function("tmsiteSign", sign)
    page.add_init_script(f"window.__address = '{account.address}';" + PROVIDER)
    page.goto("/wallets/sign-in/")
    page.click("[data-siwe-start]")
    page.wait_for_url(re.compile(r"/ratings/"))
    assert "Sign out" in page.inner_text("header")
    page.goto("/wallets/")
    assert account.address in page.inner_text("main")
