"""The deployment registry: upserts, constraints, the indexer's selectors and the JSON mirror."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from chain import registry
from chain.models import Deployment

CHAIN = 31337
FACTORY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ROUTER = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
WETH = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
USDC = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path


def _seed_registry() -> None:
    registry.deployments_record(
        chain_id=CHAIN,
        records=[
            registry.DeploymentSpec("weth", "weth", WETH, 1),
            registry.DeploymentSpec("token:USDC", "stablecoin", USDC, 2, {"decimals": 6}),
            registry.DeploymentSpec(
                "dex:uniswap-v2:factory",
                "dex_factory",
                FACTORY,
                3,
                {"dex": "uniswap-v2", "router": ROUTER, "fee_bps": 30},
            ),
            registry.DeploymentSpec("dex:uniswap-v2:router", "dex_router", ROUTER, 4, {"factory": FACTORY}),
        ],
    )


def test_deployment_record_upserts_by_chain_and_name(db: None) -> None:
    registry.deployment_record(chain_id=CHAIN, name="weth", kind="weth", address=WETH, block_number=1)
    row = registry.deployment_record(
        chain_id=CHAIN, name="weth", kind="weth", address=USDC, block_number=9, metadata={"note": "redeployed"}
    )
    assert Deployment.objects.filter(chain_id=CHAIN, name="weth").count() == 1
    assert (row.address, row.block_number, row.metadata) == (USDC, 9, {"note": "redeployed"})
    # The same name on another chain is another deployment.
    registry.deployment_record(chain_id=1, name="weth", kind="weth", address=WETH, block_number=1)
    assert Deployment.objects.filter(name="weth").count() == 2


def test_deployment_record_rejects_unchecksummed_address_and_unknown_kind(db: None) -> None:
    with pytest.raises(ValidationError, match="checksummed"):
        registry.deployment_record(chain_id=CHAIN, name="weth", kind="weth", address=WETH.lower(), block_number=1)
    with pytest.raises(ValidationError, match="unknown deployment kind"):
        registry.deployment_record(chain_id=CHAIN, name="x", kind="oracle", address=WETH, block_number=1)


def test_database_constraints_hold_without_the_service(db: None) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(chain_id=CHAIN, name="bad", kind="token", address="0x1234", block_number=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(chain_id=CHAIN, name="bad", kind="oracle", address=WETH, block_number=1)
    Deployment.objects.create(chain_id=CHAIN, name="ok", kind="token", address=WETH, block_number=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(chain_id=CHAIN, name="ok", kind="token", address=USDC, block_number=2)


def test_dex_deployments_and_quote_assets_give_the_indexer_what_it_follows(db: None) -> None:
    _seed_registry()
    [dex] = registry.dex_deployments(chain_id=CHAIN)
    assert (dex.name, dex.factory, dex.router, dex.fee_bps, dex.block_number) == ("uniswap-v2", FACTORY, ROUTER, 30, 3)
    quotes = registry.quote_assets(chain_id=CHAIN)
    assert quotes.weth == WETH
    assert quotes.stablecoins == (USDC,)
    assert quotes.addresses == (WETH, USDC)
    assert registry.dex_deployments(chain_id=5) == []
    assert registry.quote_assets(chain_id=5).addresses == ()


def test_registry_json_mirrors_the_database_and_replace_drops_stale_rows(db: None, tmp_path: Path) -> None:
    _seed_registry()
    data = registry.deployments_json_read(chain_id=CHAIN)
    assert registry.deployments_json_path(chain_id=CHAIN) == tmp_path / "chain" / f"deployments-{CHAIN}.json"
    assert {d["name"] for d in data["deployments"]} == {r.name for r in registry.deployments_for_chain(chain_id=CHAIN)}
    assert data["dexes"][0]["router"] == ROUTER
    assert data["quote_assets"] == {"weth": WETH, "stablecoins": [USDC]}

    registry.deployments_record(
        chain_id=CHAIN, records=[registry.DeploymentSpec("weth", "weth", WETH, 1)], replace=True
    )
    assert [r.name for r in registry.deployments_for_chain(chain_id=CHAIN)] == ["weth"]
    assert [d["name"] for d in registry.deployments_json_read(chain_id=CHAIN)["deployments"]] == ["weth"]
