"""Services and selectors of the deployment registry (``chain.models.Deployment``).

Writers are the simulator and deploy scripts; readers are the indexer (which factories,
routers and quote assets to follow) and the admin. Every write also rewrites
``<VAR_DIR>/chain/deployments-<chain_id>.json`` so tools without database access (scripts,
the front end's swap widget, a second machine) see the same registry.

Naming convention for ``name``: ``weth``, ``token:USDC`` (stablecoins and tokens by
symbol), ``dex:<dex>:factory`` / ``dex:<dex>:router``, ``pool:<dex>:<BASE>-<QUOTE>``,
``executor``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from web3 import Web3

from chain.models import Deployment, DeploymentKind

ADDRESS_NOT_CHECKSUMMED = "address must be EIP-55 checksummed, got {address}"
UNKNOWN_KIND = "unknown deployment kind {kind!r}; use one of {kinds}"
DEX_WITHOUT_ROUTER = "factory {name} on chain {chain_id} has no router in its metadata"

DEFAULT_FEE_BPS = 30  # Uniswap V2: 0.3% of the input stays in the pool


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment to record; ``metadata`` must be JSON-serialisable."""

    name: str
    kind: str
    address: str
    block_number: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DexDeployment:
    """A Uniswap V2-style DEX as the indexer needs it; ``fee_bps`` 30 = 0.3% per swap."""

    name: str
    factory: str
    router: str
    fee_bps: int
    init_code_hash: str | None
    block_number: int


@dataclass(frozen=True)
class QuoteAssets:
    """Assets prices are quoted in: WETH (ETH price) and the USD stablecoins."""

    weth: str | None
    stablecoins: tuple[str, ...]

    @property
    def addresses(self) -> tuple[str, ...]:
        """All quote assets, WETH first."""
        return ((self.weth,) if self.weth else ()) + self.stablecoins


def _validated(spec: DeploymentSpec) -> DeploymentSpec:
    if spec.kind not in DeploymentKind.values:
        raise ValidationError(UNKNOWN_KIND.format(kind=spec.kind, kinds=", ".join(DeploymentKind.values)))
    if not Web3.is_checksum_address(spec.address):
        raise ValidationError(ADDRESS_NOT_CHECKSUMMED.format(address=spec.address))
    return spec


def _upsert(*, chain_id: int, spec: DeploymentSpec) -> Deployment:
    spec = _validated(spec)
    row, _ = Deployment.objects.update_or_create(
        chain_id=chain_id,
        name=spec.name,
        defaults={
            "kind": spec.kind,
            "address": spec.address,
            "block_number": spec.block_number,
            "metadata": spec.metadata,
        },
    )
    return row


def deployment_record(
    *,
    chain_id: int,
    name: str,
    kind: str,
    address: str,
    block_number: int,
    metadata: dict[str, Any] | None = None,
) -> Deployment:
    """Insert or update the deployment ``name`` on ``chain_id`` and rewrite the JSON file."""
    spec = DeploymentSpec(name=name, kind=kind, address=address, block_number=block_number, metadata=metadata or {})
    with transaction.atomic():
        row = _upsert(chain_id=chain_id, spec=spec)
    deployments_json_write(chain_id=chain_id)
    return row


def deployments_record(*, chain_id: int, records: Sequence[DeploymentSpec], replace: bool = False) -> list[Deployment]:
    """Upsert many deployments in one transaction, then rewrite the JSON file once.

    ``replace=True`` also deletes the chain's rows not in ``records``: a fresh local chain
    reuses chain id 31337, and stale addresses from an earlier run would mislead the indexer.
    """
    with transaction.atomic():
        rows = [_upsert(chain_id=chain_id, spec=spec) for spec in records]
        if replace:
            Deployment.objects.filter(chain_id=chain_id).exclude(name__in=[s.name for s in records]).delete()
    deployments_json_write(chain_id=chain_id)
    return rows


def deployments_for_chain(*, chain_id: int) -> list[Deployment]:
    """Every deployment on ``chain_id``, ordered by kind then name."""
    return list(Deployment.objects.filter(chain_id=chain_id).order_by("kind", "name"))


def dex_deployments(*, chain_id: int) -> list[DexDeployment]:
    """The chain's Uniswap V2-style DEXes (factory, router, fee), ordered by name.

    Built from the ``dex_factory`` rows, whose metadata names the ``dex``, its ``router``
    and ``fee_bps``; a factory without a router is a registry bug and raises.
    """
    dexes = []
    for row in Deployment.objects.filter(chain_id=chain_id, kind=DeploymentKind.DEX_FACTORY).order_by("name"):
        router = row.metadata.get("router")
        if not router:
            raise ValidationError(DEX_WITHOUT_ROUTER.format(name=row.name, chain_id=chain_id))
        dexes.append(
            DexDeployment(
                name=str(row.metadata.get("dex", row.name)),
                factory=row.address,
                router=str(router),
                fee_bps=int(row.metadata.get("fee_bps", DEFAULT_FEE_BPS)),
                init_code_hash=row.metadata.get("init_code_hash"),
                block_number=row.block_number,
            )
        )
    return dexes


def quote_assets(*, chain_id: int) -> QuoteAssets:
    """WETH and the stablecoins of ``chain_id`` (the assets token prices are quoted in)."""
    rows = Deployment.objects.filter(
        chain_id=chain_id, kind__in=[DeploymentKind.WETH, DeploymentKind.STABLECOIN]
    ).order_by("name")
    weth = next((r.address for r in rows if r.kind == DeploymentKind.WETH), None)
    stablecoins = tuple(r.address for r in rows if r.kind == DeploymentKind.STABLECOIN)
    return QuoteAssets(weth=weth, stablecoins=stablecoins)


def deployments_json_path(*, chain_id: int) -> Path:
    """``<VAR_DIR>/chain/deployments-<chain_id>.json`` (read at call time, so tests can move it)."""
    return Path(settings.VAR_DIR) / "chain" / f"deployments-{chain_id}.json"


def deployments_json_write(*, chain_id: int) -> Path:
    """Dump the chain's registry to its JSON file atomically (write, then rename).

    Format: ``{"chain_id", "deployments": [{name, kind, address, block_number, metadata}],
    "dexes": [{name, factory, router, fee_bps, init_code_hash, block_number}],
    "quote_assets": {"weth", "stablecoins"}}``.
    """
    path = deployments_json_path(chain_id=chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    quotes = quote_assets(chain_id=chain_id)
    payload = {
        "chain_id": chain_id,
        "deployments": [
            {
                "name": row.name,
                "kind": row.kind,
                "address": row.address,
                "block_number": row.block_number,
                "metadata": row.metadata,
            }
            for row in deployments_for_chain(chain_id=chain_id)
        ],
        "dexes": [dex.__dict__ for dex in dex_deployments(chain_id=chain_id)],
        "quote_assets": {"weth": quotes.weth, "stablecoins": list(quotes.stablecoins)},
    }
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def deployments_json_read(*, chain_id: int) -> dict[str, Any]:
    """The JSON registry file of ``chain_id`` as written by :func:`deployments_json_write`."""
    return json.loads(deployments_json_path(chain_id=chain_id).read_text())
