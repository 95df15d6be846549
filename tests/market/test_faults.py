"""Faults: the node going away mid-run, and the indexer process killed at random points."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from chain.contracts import connect
from chain.node import free_port, start_anvil
from chain.registry import deployments_record
from market.models import Checkpoint
from market.rpc import RpcUnavailable
from market.selectors import market_state_digest
from market.services import chain_index_reset, chain_index_to_head, rpc_client
from tests.chain.conftest import require_chain_tooling
from tests.fixtures.databases import scratch_postgres
from tests.fixtures.market import build_mini_market

pytestmark = [pytest.mark.chain, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_node_outage_mid_run_is_retried_and_indexing_resumes_without_loss(tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    require_chain_tooling()
    port = free_port()
    state = tmp_path / "chain-state.json"
    node = start_anvil(port=port, state_path=state, log_path=tmp_path / "anvil.log")
    try:
        market = build_mini_market(connect(node.url), node.url)
        market.random_activity(30)
        deployments_record(chain_id=market.chain_id, records=market.specs(), replace=True)
        settings.INDEX_SPAN_INITIAL = settings.INDEX_SPAN_MAX = 2
        settings.INDEX_BATCH_PAUSE = 0.02
        settings.RPC_RETRIES, settings.RPC_BACKOFF = 8, 0.25  # waits up to ~60 s in all

        # A run whose node disappears for good fails with RpcUnavailable and keeps what it committed.
        short = rpc_client(node.url)
        short.retries, short.backoff = 1, 0.05
        chain_index_to_head(chain_id=market.chain_id, rpc=short, max_batches=5)
        committed = Checkpoint.objects.get(chain_id=market.chain_id).next_block
        node.stop()
        with pytest.raises(RpcUnavailable):
            chain_index_to_head(chain_id=market.chain_id, rpc=short)
        assert Checkpoint.objects.get(chain_id=market.chain_id).next_block == committed

        # A run that sees the node stop mid-run and come back within its retries just goes on.
        node = start_anvil(port=port, state_path=state, log_path=tmp_path / "anvil.log")
        errors: list[BaseException] = []

        def run() -> None:
            try:
                chain_index_to_head(chain_id=market.chain_id, rpc=rpc_client(node.url))
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()  # this thread's connection, so the test database can be dropped

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive(), "the run finished before the outage could hit it"
        node.stop()
        time.sleep(2.0)
        node = start_anvil(port=port, state_path=state, log_path=tmp_path / "anvil.log")
        worker.join(timeout=120)
        assert not errors, errors
        head = connect(node.url).eth.block_number
        assert Checkpoint.objects.get(chain_id=market.chain_id).next_block == head + 1
        resumed = market_state_digest(chain_id=market.chain_id)

        chain_index_reset(chain_id=market.chain_id)
        settings.INDEX_SPAN_INITIAL = settings.INDEX_SPAN_MAX = 10_000
        settings.INDEX_BATCH_PAUSE = 0
        chain_index_to_head(chain_id=market.chain_id, rpc=rpc_client(node.url))
        fresh = market_state_digest(chain_id=market.chain_id)
        for key in fresh:
            if fresh[key] != resumed[key] and isinstance(fresh[key], list):
                print(key, set(fresh[key]) ^ set(resumed[key]))
        assert fresh == resumed
    finally:
        node.stop()


SETUP = """
import json, sys, django
django.setup()
from django.core.management import call_command
from chain.registry import DeploymentSpec, deployments_record
call_command("migrate", verbosity=0)
specs = [DeploymentSpec(**s) for s in json.loads(sys.argv[1])]
deployments_record(chain_id=int(sys.argv[2]), records=specs, replace=True)
"""
DIGEST = """
import json, sys, django
django.setup()
from market.models import Checkpoint
from market.selectors import market_state_digest
digest = market_state_digest(chain_id=int(sys.argv[1]))
checkpoint = Checkpoint.objects.filter(chain_id=int(sys.argv[1])).first()
digest["next_block"] = checkpoint.next_block if checkpoint else 0
print(json.dumps(digest))
"""


def _env(var_dir: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        VAR_DIR=str(var_dir),
        WEB3_PROVIDER_URI=url,
        INDEX_SPAN_INITIAL="1",
        INDEX_SPAN_MAX="1",
        INDEX_BATCH_PAUSE="0.03",
        DJANGO_SETTINGS_MODULE="tmsite.settings",
    )
    return env


def _python(code: str, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(params=["sqlite", "postgresql"])
def killed_database(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Where the killed runs write: a SQLite file (walk and write in turn), or a PostgreSQL
    database of its own (the next batch is walked while the last one is written)."""
    if request.param == "sqlite":
        yield {}
        return
    with scratch_postgres(request.getfixturevalue("postgres_url"), "tmsite_killed") as url:
        yield {"DATABASE_URL": url}


def test_indexer_killed_at_random_points_ends_in_the_same_state(mini_market, tmp_path, killed_database) -> None:
    """Each run is a separate ``manage.py index_chain`` process; the uninterrupted reference
    run has its own SQLite file, the killed ones a SQLite file or a PostgreSQL database."""
    m = mini_market
    specs = json.dumps([s.__dict__ for s in m.specs()])
    killed = {**_env(tmp_path / "killed", m.url), **killed_database}
    # The uninterrupted reference run reads everything in one batch; only the killed one crawls.
    baseline = {
        **_env(tmp_path / "baseline", m.url),
        "INDEX_SPAN_INITIAL": "10000",
        "INDEX_SPAN_MAX": "10000",
        "INDEX_BATCH_PAUSE": "0",
    }
    for env in (baseline, killed):
        _python(SETUP, env, specs, str(m.chain_id))
    command = [sys.executable, "manage.py", "index_chain", "--quiet"]
    subprocess.run(command, cwd=ROOT, env=baseline, check=True, capture_output=True, timeout=300)
    expected = json.loads(_python(DIGEST, baseline, str(m.chain_id)))

    rng = random.Random(5)
    progress = []
    for _ in range(6):
        proc = subprocess.Popen(
            command[:-1], cwd=ROOT, env=killed, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert proc.stdout is not None
        # Let it commit a random number of batches, then kill it somewhere in the next one.
        for _ in range(rng.randint(2, 12)):
            if not proc.stdout.readline():
                break
        time.sleep(rng.uniform(0.0, 0.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        progress.append(json.loads(_python(DIGEST, killed, str(m.chain_id)))["next_block"])
    print("kill points", progress, "of", expected["next_block"])
    assert progress[-1] < expected["next_block"], "the kills came too late to interrupt anything"
    assert len(set(progress)) >= 3, f"kills did not land at distinct points: {progress}"
    subprocess.run(command, cwd=ROOT, env=killed, check=True, capture_output=True, timeout=300)
    assert json.loads(_python(DIGEST, killed, str(m.chain_id))) == expected
