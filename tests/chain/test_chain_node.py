"""Node management: state survives a restart; ensure_local_node is idempotent."""

from __future__ import annotations

from pathlib import Path

from web3 import Web3
from web3.types import Wei

from chain.contracts import connect, contract_at, deploy_contract, transact
from chain.node import ensure_local_node, free_port, node_chain_id, pid_path, start_anvil, stop_local_node


def test_state_survives_stop_and_start(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    port = free_port()
    with start_anvil(port=port, state_path=state, log_path=tmp_path / "anvil.log") as node:
        w3 = connect(node.url)
        owner, holder = list(w3.eth.accounts)[:2]
        token = deploy_contract(w3, "SimpleToken", "Keep", "KEEP", 6, 1_000_000, owner, sender=owner)
        receipt = transact(w3, token.functions.transfer(holder, 1234), sender=owner)
        block = w3.eth.block_number
    assert state.is_file() and state.stat().st_size > 0

    with start_anvil(port=port, state_path=state, log_path=tmp_path / "anvil.log") as node:
        w3 = connect(node.url)
        token = contract_at(w3, "SimpleToken", token.address)
        assert w3.eth.block_number == block
        assert token.functions.balanceOf(holder).call() == 1234
        assert token.functions.decimals().call() == 6
        # Mined history (blocks, receipts, logs) comes back too, which the indexer relies on.
        assert w3.eth.get_transaction_receipt(receipt["transactionHash"])["status"] == 1
        logs = token.events.Transfer().get_logs(from_block=0)
        assert [(log["args"]["to"], log["args"]["value"]) for log in logs][-1] == (holder, 1234)
        # And the chain goes on from there.
        transact(w3, token.functions.transfer(holder, 1), sender=owner)
        assert w3.eth.block_number == block + 1


def test_ensure_local_node_is_idempotent(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        assert ensure_local_node(url, tmp_path / "state.json") == 31337
        pid = pid_path(port).read_text()
        assert ensure_local_node(url, tmp_path / "state.json") == 31337
        assert pid_path(port).read_text() == pid  # reused, not restarted
        w3 = Web3(Web3.HTTPProvider(url))
        sender, receiver = list(w3.eth.accounts)[:2]
        w3.eth.send_transaction({"from": sender, "to": receiver, "value": Wei(1)})
    finally:
        assert stop_local_node(url)
    assert node_chain_id(url) is None
    assert not pid_path(port).exists()
    assert (tmp_path / "state.json").is_file()
    assert not stop_local_node(url)
