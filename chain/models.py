"""Where the contracts of a chain live: the deployment registry.

The simulator (or a deploy script) records every contract it deploys here, and the
indexer reads back which factories, routers, fees and quote assets to follow. Only
addresses and static facts are stored; market data comes from the chain itself.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact


class DeploymentKind(models.TextChoices):
    """What a registry row is; the indexer selects factories and quote assets by kind."""

    WETH = "weth", "WETH"
    STABLECOIN = "stablecoin", "Stablecoin"
    DEX_FACTORY = "dex_factory", "DEX factory"
    DEX_ROUTER = "dex_router", "DEX router"
    TOKEN = "token", "Token"
    POOL = "pool", "Pool"
    EXECUTOR = "executor", "Swap executor"


class Deployment(models.Model):
    """One named contract on one chain (e.g. ``dex:uniswap-v2:factory`` on 31337).

    ``name`` is unique per chain so re-running a deploy updates the row instead of
    duplicating it. ``metadata`` holds kind-specific facts: a factory's ``router`` and
    ``fee_bps`` (basis points, 30 = 0.3%), a token's ``decimals`` and scenario ``role``,
    a pool's ``token0``/``token1``.
    """

    Kind = DeploymentKind

    chain_id = models.PositiveBigIntegerField()
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=DeploymentKind.choices)
    address = models.CharField(max_length=42, help_text="EIP-55 checksummed")
    block_number = models.PositiveBigIntegerField(help_text="block the contract was created in")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chain_id", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "name"], name="deployment_one_name_per_chain"),
            models.CheckConstraint(condition=models.Q(chain_id__gt=0), name="deployment_chain_id_positive"),
            models.CheckConstraint(condition=~models.Q(name=""), name="deployment_name_not_empty"),
            models.CheckConstraint(condition=models.Q(kind__in=DeploymentKind.values), name="deployment_kind_known"),
            # A 0x-prefixed 20-byte hex address; checksum casing is enforced by the service.
            models.CheckConstraint(
                condition=models.Q(Exact(Length("address"), 42), address__startswith="0x"),
                name="deployment_address_shape",
            ),
        ]
        indexes = [
            # dex_deployments / quote_assets: all factories (or quote assets) of one chain.
            models.Index(fields=["chain_id", "kind"], name="deployment_chain_kind"),
            # "what is this address?" lookups from the indexer and admin search.
            models.Index(fields=["chain_id", "address"], name="deployment_chain_address"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.address} (chain {self.chain_id})"
