"""Contract artifacts, deployment and fast transaction sending for the local chain.

Artifacts come from three places, searched in this order:

* ``project``: our own contracts, compiled by ``node scripts/compile_contracts.mjs`` into
  ``var/build/contracts/<Name>.json``;
* ``v2-core`` and ``v2-periphery``: Uniswap V2's published build (``UniswapV2Factory``,
  ``UniswapV2Pair``, ``UniswapV2Router02``, ``WETH9``...) from ``node_modules/@uniswap``;
* ``openzeppelin``: OpenZeppelin 4.9's presets (``ERC20PresetFixedSupply``...).

A bare name takes the first match; names that exist in several places (``ERC20``,
``IERC20``) can be qualified as ``"openzeppelin:ERC20"``.

Sending transactions. All senders are anvil accounts the node signs for (its unlocked dev
accounts, or any address after :func:`impersonate`), so nothing is signed in Python.

* :func:`transact` / :func:`deploy_contract` send one transaction and wait for its receipt,
  raising :class:`TransactionFailed` if it reverted. Right for set-up code and tests.
* :class:`BulkSender` is the fast path for the market simulator: it encodes calls locally,
  assigns nonces itself and sends raw ``eth_sendTransaction`` requests without gas
  estimation, web3 middleware or waiting for each receipt, and mines blocks explicitly
  (several times :func:`transact`'s rate; see :class:`BulkMode` for the two modes).
  Receipts are then fetched in JSON-RPC batches with :func:`wait_for_receipts`, which
  raises if any transaction reverted. Typical use::

      sender = BulkSender(w3)
      for trader in traders:
          sender.add(token.address, encode_call(token, "transfer", trader, 10**18), sender=whale)
      receipts = sender.flush_and_wait()
"""

from __future__ import annotations

import enum
import functools
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import TxParams, TxReceipt, Wei

REPO_ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO_ROOT / "node_modules"

ARTIFACT_DIRS: dict[str, Path] = {
    "project": REPO_ROOT / "var" / "build" / "contracts",
    "v2-core": NODE_MODULES / "@uniswap" / "v2-core" / "build",
    "v2-periphery": NODE_MODULES / "@uniswap" / "v2-periphery" / "build",
    "openzeppelin": NODE_MODULES / "@openzeppelin" / "contracts" / "build" / "contracts",
}

# Gas limit used when a caller gives none on the fast path: high enough for a multi-hop
# swap, and only gas actually used is paid. Estimating per transaction would cost a round
# trip each and fail for calls that depend on earlier, not yet mined, transactions.
DEFAULT_BULK_GAS = 1_500_000


class ArtifactNotFound(LookupError):
    """No artifact with that name; usually ``npm ci`` or the compile step has not run."""


class TransactionFailed(RuntimeError):
    """A mined transaction has status 0 (it reverted)."""

    def __init__(self, message: str, receipt: TxReceipt | dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.receipt = receipt


@dataclass(frozen=True)
class Artifact:
    """ABI and creation bytecode of one contract."""

    name: str
    namespace: str
    abi: list[dict[str, Any]]
    bytecode: HexStr

    @property
    def deployable(self) -> bool:
        return len(self.bytecode) > 2


def _read_artifact(namespace: str, name: str, path: Path) -> Artifact:
    data = json.loads(path.read_text())
    abi = data["abi"]
    if isinstance(abi, str):  # some older truffle-style builds store the ABI as a string
        abi = json.loads(abi)
    bytecode = data.get("bytecode") or data.get("evm", {}).get("bytecode", {}).get("object") or ""
    if isinstance(bytecode, dict):
        bytecode = bytecode.get("object", "")
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    if "__" in bytecode:
        raise ArtifactNotFound(f"{namespace}:{name} needs library linking, which is not supported")
    return Artifact(name=name, namespace=namespace, abi=abi, bytecode=HexStr(bytecode))


@functools.cache
def load_artifact(name: str) -> Artifact:
    """Load (and cache) the artifact ``name`` or ``"namespace:name"``.

    Raises :class:`ArtifactNotFound` naming the set-up step that is missing.
    """
    namespace, _, bare = name.rpartition(":")
    if namespace and namespace not in ARTIFACT_DIRS:
        raise ArtifactNotFound(f"unknown artifact namespace {namespace!r}; use one of {sorted(ARTIFACT_DIRS)}")
    spaces = [namespace] if namespace else list(ARTIFACT_DIRS)
    for space in spaces:
        path = ARTIFACT_DIRS[space] / f"{bare}.json"
        if path.is_file():
            return _read_artifact(space, bare, path)
    hints = []
    if not NODE_MODULES.is_dir():
        hints.append("node_modules is missing: run `npm ci`")
    if not ARTIFACT_DIRS["project"].is_dir():
        hints.append("project contracts are not compiled: run `node scripts/compile_contracts.mjs`")
    hint = "; ".join(hints) or "check the name (see chain.contracts.ARTIFACT_DIRS)"
    raise ArtifactNotFound(f"no contract artifact named {name!r} ({hint})")


def check_artifacts(names: Iterable[str] = ("UniswapV2Router02", "SimpleToken", "SwapExecutor")) -> None:
    """Fail early, with the fix in the message, if the set-up steps have not been run."""
    for name in names:
        load_artifact(name)


def connect(url: str, *, timeout: float = 30.0) -> Web3:
    """A ``Web3`` for the node at ``url`` with a request timeout suited to a local node.

    Raises ``ConnectionError`` right away if nothing answers, rather than at first use.
    """
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
    if not w3.is_connected():
        raise ConnectionError(f"no JSON-RPC node answers at {url} (start one with `python -m chain.node start`)")
    return w3


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    """A web3 contract object for the deployed contract ``name`` at ``address``."""
    artifact = load_artifact(name)
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)


def _tx_params(sender: str, value: int, gas: int | None) -> TxParams:
    params: TxParams = {"from": Web3.to_checksum_address(sender)}
    if value:
        params["value"] = Wei(value)
    if gas is not None:
        params["gas"] = gas
    return params


def wait_for_receipt(w3: Web3, tx_hash: HexBytes | str, *, timeout: float = 60.0) -> TxReceipt:
    """Wait for one receipt and raise :class:`TransactionFailed` if it reverted."""
    receipt = w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=timeout, poll_latency=0.01)
    if receipt["status"] != 1:
        raise TransactionFailed(f"transaction {HexBytes(tx_hash).to_0x_hex()} reverted", receipt)
    return receipt


def transact(
    w3: Web3,
    call: ContractFunction,
    *,
    sender: str,
    value: int = 0,
    gas: int | None = None,
) -> TxReceipt:
    """Send ``call`` from ``sender`` and wait for a successful receipt.

    Without ``gas`` web3 estimates it first, so a call that would revert raises
    ``web3.exceptions.ContractLogicError`` carrying the revert reason before anything is
    sent; with ``gas`` the transaction is mined and a revert raises
    :class:`TransactionFailed`.
    """
    tx_hash = call.transact(_tx_params(sender, value, gas))
    return wait_for_receipt(w3, tx_hash)


def deploy_contract(
    w3: Web3,
    name: str,
    *args: Any,
    sender: str,
    value: int = 0,
    gas: int | None = None,
) -> Contract:
    """Deploy ``name`` with constructor ``args`` from ``sender``; return the contract."""
    artifact = load_artifact(name)
    if not artifact.deployable:
        raise ArtifactNotFound(f"{artifact.namespace}:{name} is abstract or an interface (no bytecode)")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = factory.constructor(*args).transact(_tx_params(sender, value, gas))
    receipt = wait_for_receipt(w3, tx_hash)
    address = receipt["contractAddress"]
    if address is None:
        raise TransactionFailed(f"deploying {name} created no contract", receipt)
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)


def encode_call(contract: Contract, function: str, *args: Any) -> HexStr:
    """ABI-encode ``contract.function(*args)`` locally (no RPC), for :class:`BulkSender`."""
    return contract.encode_abi(function, args=list(args))


def impersonate(w3: Web3, address: str, *, balance_wei: int | None = None) -> ChecksumAddress:
    """Let the node sign for ``address`` (anvil only), optionally setting its ETH balance.

    This is how simulated traders act without private keys: after impersonation,
    ``eth_sendTransaction`` from that address just works, including in :class:`BulkSender`.
    """
    checksummed = Web3.to_checksum_address(address)
    w3.provider.make_request("anvil_impersonateAccount", [checksummed])  # type: ignore[arg-type]
    if balance_wei is not None:
        w3.provider.make_request("anvil_setBalance", [checksummed, hex(balance_wei)])  # type: ignore[arg-type]
    return checksummed


def _batch(w3: Web3, requests: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    """One JSON-RPC batch straight through the provider (no middleware), in request order."""
    if not requests:
        return []
    responses = w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]
    if not isinstance(responses, list):  # the node rejected the whole batch
        raise RuntimeError(f"batch request failed: {responses}")
    return [dict(r) for r in responses]


class BulkMode(enum.Enum):
    """How :class:`BulkSender` gets queued transactions to the node.

    Both modes pause anvil's automine during a flush and mine explicitly with
    ``evm_mine``, because anvil's automine leaves transactions stuck in the pool when they
    arrive faster than it mines (foundry-rs/foundry#10122).

    ``ORDERED`` (default): one ``eth_sendTransaction`` request after another, a block mined
    every ``txs_per_block`` transactions. With the ``--order fifo`` mempool that
    :func:`chain.node.start_anvil` sets, the chain order is exactly the order of ``add``,
    so a transaction may depend on any earlier one, from any sender.

    ``BLOCKS``: the queue goes out as JSON-RPC batches (one round trip per
    ``batch_size``), then ``evm_mine`` packs it into as few blocks as possible. About twice
    as fast, but anvil serves batch entries concurrently, so only each sender's own order
    (its nonces) is kept: use it when different senders' transactions are independent.
    """

    ORDERED = "ordered"
    BLOCKS = "blocks"


@dataclass
class BulkSender:
    """Queue transactions and send them without per-transaction web3 overhead.

    See :class:`BulkMode` and the module docstring. Calls are encoded locally, gas is a
    fixed limit (no estimation round trip; only gas used is paid) and nonces are tracked
    here per sender, fetched once from the node, so a call may depend on an earlier one
    still in the queue (``approve`` then ``swap``). Do not send from the same address by
    other means while this sender has queued transactions.

    Reverts do not raise at send time (the transaction is mined with status 0); they are
    reported by :meth:`flush_and_wait` / :func:`wait_for_receipts`. Transactions the node
    rejects outright (bad nonce, unknown sender) raise :class:`TransactionFailed` at flush.

    ``txs_per_block`` defaults to 20 rather than 1 because anvil mines more slowly the
    more blocks the chain has (here about 2 ms more per block for every thousand blocks):
    one block per transaction falls below 100 tx/s after a few thousand transactions,
    while 20-100 per block stays around 700 tx/s (and ``BLOCKS`` around 1,500-1,900).
    Fewer, fuller blocks are also what a real chain looks like. Pausing automine affects every
    client of the node during a flush: their transactions wait for the next mined block.
    The node must check balances for gas at submission, so a sender cannot spend ETH it is
    only receiving in the same, not yet mined, block.
    """

    w3: Web3
    mode: BulkMode = BulkMode.ORDERED
    txs_per_block: int = 20
    batch_size: int = 250
    default_gas: int = DEFAULT_BULK_GAS
    _queue: list[dict[str, Any]] = field(default_factory=list)
    _nonces: dict[str, int] = field(default_factory=dict)
    sent_hashes: list[str] = field(default_factory=list)

    def _next_nonce(self, sender: ChecksumAddress) -> int:
        if sender not in self._nonces:
            self._nonces[sender] = self.w3.eth.get_transaction_count(sender, "pending")
        nonce = self._nonces[sender]
        self._nonces[sender] = nonce + 1
        return nonce

    def add(
        self,
        to: str,
        data: str = "0x",
        *,
        sender: str,
        value: int = 0,
        gas: int | None = None,
    ) -> None:
        """Queue one transaction; the queue is flushed when it reaches ``batch_size``."""
        from_ = Web3.to_checksum_address(sender)
        self._queue.append(
            {
                "from": from_,
                "to": Web3.to_checksum_address(to),
                "data": data,
                "value": hex(value),
                "gas": hex(gas if gas is not None else self.default_gas),
                "nonce": hex(self._next_nonce(from_)),
            }
        )
        if len(self._queue) >= self.batch_size:
            self.flush()

    def add_call(self, call: ContractFunction, *, sender: str, value: int = 0, gas: int | None = None) -> None:
        """Queue ``contract.functions.f(...)`` (encoded locally, no RPC)."""
        data = call._encode_transaction_data()
        self.add(call.address, data, sender=sender, value=value, gas=gas)

    def flush(self) -> list[str]:
        """Send everything queued and have it mined; returns the new transaction hashes."""
        queue, self._queue = self._queue, []
        if not queue:
            return []
        responses = self._send_and_mine(queue)
        hashes: list[str] = []
        errors: list[str] = []
        for tx, response in zip(queue, responses, strict=True):
            if "error" in response:
                errors.append(f"{tx['from']} nonce {int(tx['nonce'], 16)}: {response['error']}")
            else:
                hashes.append(response["result"])
        self.sent_hashes.extend(hashes)
        if errors:
            # A rejected transaction leaves a nonce gap; forget the nonces so the next add
            # re-reads them from the node instead of queueing behind the gap forever.
            self._nonces.clear()
            raise TransactionFailed(f"{len(errors)} of {len(queue)} transactions rejected: {errors[:3]}")
        return hashes

    def _send_and_mine(self, queue: list[dict[str, Any]]) -> list[dict[str, Any]]:
        make_request = self.w3.provider.make_request
        make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        try:
            if self.mode is BulkMode.BLOCKS:
                responses = _batch(self.w3, [("eth_sendTransaction", [tx]) for tx in queue])
            else:
                responses = []
                per_block = max(1, self.txs_per_block)
                for index, tx in enumerate(queue, start=1):
                    responses.append(dict(make_request("eth_sendTransaction", [tx])))  # type: ignore[arg-type]
                    if index % per_block == 0:
                        make_request("evm_mine", [])  # type: ignore[arg-type]
            # Mine whatever is left; bounded, since each block takes at least one
            # transaction while any is pending.
            for _ in range(len(queue) + 1):
                status = make_request("txpool_status", [])  # type: ignore[arg-type]
                if int(status["result"]["pending"], 16) == 0:
                    break
                make_request("evm_mine", [])  # type: ignore[arg-type]
        finally:
            make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        return responses

    def flush_and_wait(self, *, require_success: bool = True, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Flush, then fetch receipts of every transaction sent since the last wait."""
        self.flush()
        hashes, self.sent_hashes = self.sent_hashes, []
        return wait_for_receipts(self.w3, hashes, require_success=require_success, timeout=timeout)


def wait_for_receipts(
    w3: Web3,
    tx_hashes: Sequence[str | HexBytes],
    *,
    require_success: bool = True,
    timeout: float = 120.0,
    batch_size: int = 500,
) -> list[dict[str, Any]]:
    """Fetch receipts for many transactions with batched ``eth_getTransactionReceipt``.

    Receipts are raw JSON-RPC dicts (hex strings, e.g. ``int(r["status"], 16)``) because
    formatting thousands of them through web3 costs more than the RPC. Raises
    :class:`TransactionFailed` if ``require_success`` and any reverted.
    """
    hashes = [HexBytes(h).to_0x_hex() for h in tx_hashes]
    receipts: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while True:
        missing = [h for h in hashes if h not in receipts]
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            for tx_hash, response in zip(
                chunk, _batch(w3, [("eth_getTransactionReceipt", [h]) for h in chunk]), strict=True
            ):
                if response.get("result"):
                    receipts[tx_hash] = response["result"]
        if len(receipts) == len(set(hashes)):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(set(hashes)) - len(receipts)} receipts not available after {timeout}s")
        time.sleep(0.02)
    ordered = [receipts[h] for h in hashes]
    if require_success:
        failed = [r["transactionHash"] for r in ordered if int(r["status"], 16) != 1]
        if failed:
            raise TransactionFailed(f"{len(failed)} of {len(ordered)} transactions reverted: {failed[:3]}")
    return ordered


def revert_reason(w3: Web3, tx_hash: str | HexBytes) -> str | None:
    """Re-run a mined, reverted transaction as ``eth_call`` to recover its revert reason.

    Exact with automine, where each transaction has a block of its own, so the parent
    block's state is the state the transaction ran against.
    """
    tx = w3.eth.get_transaction(HexBytes(tx_hash))
    call: TxParams = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"]}
    try:
        w3.eth.call(call, block_identifier=tx["blockNumber"] - 1)
    except ContractLogicError as exc:
        return str(exc.message or exc)
    return None
