"""Each risk flag on a contract or pool built on the local chain to trigger it, and not on a normal token."""

from __future__ import annotations

import pytest

from chain.contracts import deploy_contract, transact
from chain.deploy import create_pool_with_liquidity, deploy_erc20
from market.models import Token
from market.services import chain_index_to_head, index_sources_sync, rpc_client
from ratings.models import RiskFlag
from ratings.selectors import token_risk_flags
from ratings.services import chain_risks_refresh, ratings_compute
from tests.fixtures.market import E18
from tmsite.api.caching import data_version

pytestmark = [pytest.mark.chain, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def risky_market(registered_market):  # type: ignore[no-untyped-def]
    m = registered_market
    w3, owner, dex = m.w3, m.deployer, m.dexes[0]
    pool = create_pool_with_liquidity
    honeypot = deploy_contract(w3, "HoneypotToken", "Trap", "TRAP", 1_000_000 * E18, sender=owner)
    pair = pool(
        w3, dex=dex, token_a=m.weth, amount_a=20 * E18, token_b=honeypot.address, amount_b=200_000 * E18, provider=owner
    )
    transact(w3, honeypot.functions.setPair(pair, True), sender=owner)
    mintable = deploy_contract(w3, "MintableToken", "Printer", "PRNT", 18, 1_000_000 * E18, owner, sender=owner)
    pool(
        w3, dex=dex, token_a=m.weth, amount_a=20 * E18, token_b=mintable.address, amount_b=200_000 * E18, provider=owner
    )
    taxed = deploy_contract(w3, "TaxToken", "Taxed", "TAXD", 1_000_000 * E18, m.traders[6], 300, 300, sender=owner)
    tax_pair = pool(
        w3, dex=dex, token_a=m.weth, amount_a=20 * E18, token_b=taxed.address, amount_b=200_000 * E18, provider=owner
    )
    transact(w3, taxed.functions.setPair(tax_pair, True), sender=owner)
    rug = deploy_erc20(w3, name="Rug", symbol="RUGG", supply=1_000_000 * E18, sender=owner)
    rug_pair = pool(w3, dex=dex, token_a=m.weth, amount_a=30 * E18, token_b=rug, amount_b=500_000 * E18, provider=owner)
    whale = deploy_erc20(w3, name="Whale", symbol="WHALE", supply=1_000_000 * E18, sender=owner)
    pool(w3, dex=dex, token_a=m.weth, amount_a=20 * E18, token_b=whale, amount_b=10_000 * E18, provider=owner)
    dust = deploy_erc20(w3, name="Dust", symbol="DUST", supply=1_000_000 * E18, sender=owner)
    pool(w3, dex=dex, token_a=m.weth, amount_a=E18 // 1000, token_b=dust, amount_b=1_000 * E18, provider=owner)
    for trader in m.traders[:3]:
        for token in (honeypot.address, mintable.address, taxed.address, rug):
            m.buy(trader, token, E18 // 10)
    # Liquidity of RUGG is pulled two hours after it was added: a soft rug.
    m.advance(2 * 3600)
    m.pull_liquidity(rug, rug_pair, dex)
    m.advance(3600)
    index_sources_sync(chain_id=m.chain_id)
    chain_index_to_head(chain_id=m.chain_id, rpc=rpc_client(m.url))
    return {
        "TRAP": honeypot.address,
        "PRNT": mintable.address,
        "TAXD": taxed.address,
        "RUGG": rug,
        "WHALE": whale,
        "DUST": dust,
    }


def codes(address: str) -> set[str]:
    return set(token_risk_flags(token=Token.objects.get(address=address)).values_list("code", flat=True))


def test_chain_and_data_risk_flags_fire_where_planted_and_not_on_a_normal_token(
    registered_market, risky_market, tmp_path, settings
):
    settings.VAR_DIR = tmp_path
    chain_id = registered_market.chain_id
    version = data_version()
    found = chain_risks_refresh(chain_id=chain_id, rpc=rpc_client(registered_market.url))
    assert data_version() != version  # cached pages and API answers are invalidated
    ratings_compute(chain_id=chain_id)
    alpha = registered_market.tokens["ALPHA"]

    assert "honeypot" in codes(risky_market["TRAP"])
    assert "honeypot" not in codes(risky_market["TAXD"])  # taxed, but sells go through
    assert "mintable" in codes(risky_market["PRNT"])
    assert "owner_privileges" in codes(risky_market["TAXD"])
    assert "liquidity_pulled" in codes(risky_market["RUGG"])
    assert "holder_concentration" in codes(risky_market["WHALE"])
    assert "thin_liquidity" in codes(risky_market["DUST"])
    assert codes(alpha) == set()
    assert found[Token.objects.get(address=alpha).id] == []

    flag = RiskFlag.objects.get(token__address=risky_market["TRAP"], code="honeypot")
    assert "reverted" in flag.detail and flag.severity == "high"
    trap = Token.objects.get(address=risky_market["TRAP"])
    assert trap.rating.trader_grade <= settings.RATINGS_RISK_GRADE_CAP
    assert "honeypot" in trap.rating.risk_flags
