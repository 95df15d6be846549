"""/metrics and the system page against a real indexed chain (the mini market on its own anvil)."""

from __future__ import annotations

import pytest
from django.test import Client

from market.models import Checkpoint
from market.services import chain_index_to_head, rpc_client
from monitoring.metrics import RPC_TALLY
from ratings.services import ratings_compute
from tests.fixtures.market import E18
from tests.monitoring.conftest import value

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


def _head(market) -> tuple[int, int]:
    block = market.w3.eth.get_block("latest")
    return block["number"], block["timestamp"]


def test_metrics_show_indexer_and_grading_figures_of_the_indexed_chain(registered_market, scrape, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # no social feed for grading
    m = registered_market
    chain = str(m.chain_id)
    before = scrape()

    stats = chain_index_to_head(chain_id=m.chain_id, rpc=rpc_client(m.url))
    indexed = Checkpoint.objects.get(chain_id=m.chain_id).next_block - 1
    head, _ = _head(m)
    assert indexed == head and stats.logs > 100
    caught_up = scrape()

    def delta(name: str, **labels: str) -> float:
        return (value(caught_up, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert delta("tmsite_indexer_logs_total", chain_id=chain) == stats.logs
    assert delta("tmsite_indexer_blocks_total", chain_id=chain) == stats.blocks
    assert delta("tmsite_indexer_batch_duration_seconds_count", chain_id=chain) == len(stats.batches)
    assert value(caught_up, "tmsite_chain_node_up", chain_id=chain) == 1
    assert value(caught_up, "tmsite_indexer_head_block", chain_id=chain) == head
    assert value(caught_up, "tmsite_indexer_indexed_block", chain_id=chain) == indexed
    assert value(caught_up, "tmsite_indexer_lag_blocks", chain_id=chain) == 0
    assert value(caught_up, "tmsite_indexer_lag_seconds", chain_id=chain) == 0
    assert value(caught_up, "tmsite_indexer_reorgs_total", chain_id=chain) == 0
    assert delta("tmsite_rpc_request_duration_seconds_count", method="eth_getLogs") >= 1

    # The chain moves on without the indexer: lag in blocks and in block time.
    m.buy(m.traders[0], m.tokens["ALPHA"], E18 // 10)
    m.w3.provider.make_request("evm_increaseTime", [120])
    m.buy(m.traders[1], m.tokens["BETA9"], E18 // 10)
    new_head, new_head_time = _head(m)
    indexed_time = m.w3.eth.get_block(indexed)["timestamp"]
    behind = scrape()
    assert value(behind, "tmsite_indexer_head_block", chain_id=chain) == new_head
    assert value(behind, "tmsite_indexer_lag_blocks", chain_id=chain) == new_head - indexed > 0
    assert value(behind, "tmsite_indexer_lag_seconds", chain_id=chain) == new_head_time - indexed_time >= 120

    run = ratings_compute(chain_id=m.chain_id)
    graded = scrape()
    assert run.tokens >= 5
    assert value(graded, "tmsite_grades_last_run_tokens", chain_id=chain) == run.tokens
    assert (value(graded, "tmsite_grades_runs_total", chain_id=chain) or 0) - (
        value(behind, "tmsite_grades_runs_total", chain_id=chain) or 0
    ) == 1
    for horizon, version in run.model_versions.items():
        assert value(graded, "tmsite_grades_model_info", chain_id=chain, horizon=horizon, version=version) == 1
    last_run = value(graded, "tmsite_grades_last_run_timestamp_seconds", chain_id=chain)
    moved = value(behind, "tmsite_indexer_checkpoint_updated_timestamp_seconds", chain_id=chain)
    assert last_run is not None and moved is not None and last_run > moved


def test_system_page_is_staff_only_and_shows_indexed_block_and_lag(registered_market, admin_user, django_user_model):
    m = registered_market
    chain_index_to_head(chain_id=m.chain_id, rpc=rpc_client(m.url))
    indexed = Checkpoint.objects.get(chain_id=m.chain_id).next_block - 1
    m.buy(m.traders[0], m.tokens["ALPHA"], E18 // 10)
    m.buy(m.traders[1], m.tokens["GAMMA6"], E18 // 10)
    head, head_time = _head(m)
    lag = head - indexed
    assert lag >= 2

    anonymous = Client()
    page = anonymous.get("/system/")
    assert page.status_code == 302 and "/login/" in page["Location"]
    assert anonymous.get("/api/v1/system").status_code == 403
    member = Client()
    member.force_login(django_user_model.objects.create_user(username="member", password="member-pass-123"))
    assert member.get("/system/").status_code == 302
    assert member.get("/api/v1/system").status_code == 403

    staff = Client()
    staff.force_login(admin_user)
    page = staff.get("/system/")
    assert page.status_code == 200
    html = page.content.decode()
    row = html[html.index(f'data-chain="{m.chain_id}"') :]
    row = row[: row.index("</tr>")]
    assert f"<td data-head>{head}" in row
    assert f"<td data-indexed>{indexed}</td>" in row
    assert f"<td data-lag-blocks>{lag}</td>" in row

    body = staff.get("/api/v1/system").json()
    (chain,) = [c for c in body["chains"] if c["chain_id"] == m.chain_id]
    assert chain["head_block"] == head and chain["head_live"] is True
    assert chain["indexed_block"] == indexed
    assert chain["lag_blocks"] == lag
    assert chain["lag_seconds"] == head_time - m.w3.eth.get_block(indexed)["timestamp"]
    assert set(body["queues"]) == {"indexing", "grading", "swap", "default"}
    RPC_TALLY.flush()  # processes add their RPC tallies to the shared cache every few seconds
    rpc = staff.get("/api/v1/system").json()["rpc"]
    assert rpc["calls"] > 0 and rpc["error_rate"] is not None and 0 <= rpc["error_rate"] <= 1
