"""Start, stop and find the local anvil node that stands in for a real EVM chain.

Why this exists: everything on-chain in the project (the indexer, the market simulator,
the tests) runs against a real EVM, never a mock. Anvil is shipped inside the
``@foundry-rs/anvil`` npm package, so ``npm ci`` is the only set-up step; this module finds
that binary and manages its processes.

Two ways to run it:

* :func:`start_anvil` starts a child process owned by the caller (tests, scripts) and
  returns an :class:`AnvilProcess` whose :meth:`AnvilProcess.stop` shuts it down cleanly,
  letting anvil write its ``--state`` file.
* :func:`ensure_local_node` is idempotent and meant for development: it reuses whatever
  node already answers at the URL, or starts a detached anvil that survives the calling
  process, with a pid file and log under ``var/chain/`` and ``--state`` so a restart keeps
  the chain.

CLI (what ``make chain`` calls)::

    python -m chain.node start  [--url URL] [--state PATH]
    python -m chain.node stop
    python -m chain.node status

The URL defaults to ``$CHAIN_RPC_URL`` or ``http://127.0.0.1:8545``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO_ROOT / "node_modules"
VAR_CHAIN_DIR = REPO_ROOT / "var" / "chain"
DEFAULT_STATE_PATH = VAR_CHAIN_DIR / "state.json"
DEFAULT_URL = "http://127.0.0.1:8545"
DEFAULT_CHAIN_ID = 31337

# The npm package only wraps a per-platform package that holds the real binary; calling the
# binary directly avoids a node process in between (signals reach anvil itself).
_PLATFORM_PACKAGES: dict[tuple[str, str], str] = {
    ("linux", "x86_64"): "anvil-linux-amd64",
    ("linux", "amd64"): "anvil-linux-amd64",
    ("linux", "aarch64"): "anvil-linux-arm64",
    ("linux", "arm64"): "anvil-linux-arm64",
    ("darwin", "x86_64"): "anvil-darwin-amd64",
    ("darwin", "arm64"): "anvil-darwin-arm64",
    ("windows", "amd64"): "anvil-win32-amd64",
}


class AnvilError(RuntimeError):
    """Anvil is missing, failed to start, or did not answer in time."""


def anvil_binary() -> Path:
    """Return the anvil executable from node_modules (or ``$ANVIL_BIN`` if set).

    Raises :class:`AnvilError` with the fix (``npm ci``) when it is not installed, because a
    missing binary is a set-up problem, not a test failure to puzzle over.
    """
    override = os.environ.get("ANVIL_BIN")
    if override:
        path = Path(override)
        if not path.is_file():
            raise AnvilError(f"ANVIL_BIN={override} does not exist")
        return path
    system = platform.system().lower()
    machine = platform.machine().lower()
    package = _PLATFORM_PACKAGES.get((system, machine))
    if package is None:
        raise AnvilError(f"no anvil build for platform {system}/{machine}")
    name = "anvil.exe" if system == "windows" else "anvil"
    path = NODE_MODULES / "@foundry-rs" / package / "bin" / name
    if not path.is_file():
        raise AnvilError(
            f"anvil binary not found at {path.relative_to(REPO_ROOT)}; "
            "run `npm ci` in the repository root to install it"
        )
    return path


def free_port() -> int:
    """Pick a currently free TCP port on the loopback interface (for test nodes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rpc_call(url: str, method: str, params: list[object] | None = None, *, timeout: float = 2.0) -> object:
    """Make one JSON-RPC call with the standard library.

    Used for liveness checks so that node management does not depend on web3 and a dead
    node costs one short timeout, not web3's retry logic.
    """
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.loads(response.read())
    if "error" in payload:
        raise AnvilError(f"{method} failed: {payload['error']}")
    return payload.get("result")


def node_chain_id(url: str, *, timeout: float = 1.0) -> int | None:
    """Return the chain id of the node at ``url``, or ``None`` if nothing answers there."""
    try:
        result = rpc_call(url, "eth_chainId", timeout=timeout)
    except (OSError, urllib.error.URLError, ValueError, AnvilError):
        return None
    return int(str(result), 16)


def _wait_until_ready(url: str, proc: subprocess.Popen[bytes] | None, log_path: Path, timeout: float) -> None:
    """Poll ``eth_chainId`` until the node answers, failing fast if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node_chain_id(url, timeout=0.5) is not None:
            return
        if proc is not None and proc.poll() is not None:
            raise AnvilError(f"anvil exited with code {proc.returncode} before answering:\n{_log_tail(log_path)}")
        time.sleep(0.05)
    raise AnvilError(f"anvil did not answer at {url} within {timeout:.0f}s:\n{_log_tail(log_path)}")


def _log_tail(log_path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def anvil_args(
    *,
    port: int,
    host: str = "127.0.0.1",
    chain_id: int = DEFAULT_CHAIN_ID,
    state_path: Path | None = None,
    state_interval: int | None = None,
    accounts: int = 10,
    balance_eth: int = 10_000,
    block_base_fee: int | None = None,
    genesis_timestamp: int | None = None,
    quiet: bool = True,
    extra_args: list[str] | None = None,
) -> list[str]:
    """Build the anvil command line.

    Choices and why:

    * automine stays on (no ``--block-time``/``--no-mining``): every transaction is mined
      at once, so the simulator and the tests see results immediately.
    * ``--quiet``: anvil otherwise logs every transaction, which is slow and noisy when the
      market simulator sends thousands of them; pass ``quiet=False`` to debug.
    * ``--state`` loads the file if it exists and writes it on a clean exit (SIGINT or
      SIGTERM); ``state_interval`` also writes it every N seconds so a hard kill loses at
      most that much.
    * ``--no-request-size-limit``: large JSON-RPC batches (bulk sends) exceed the 2 MB
      default.
    * ``--order fifo``: a block's transactions are in arrival order (not by tip), so a
      block mined from several queued transactions keeps the order they were sent in;
      :class:`chain.contracts.BulkSender` relies on it.
    * the default mnemonic is kept, so the dev accounts and their keys are the well-known
      deterministic ones.
    """
    args = [
        str(anvil_binary()),
        "--host",
        host,
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--accounts",
        str(accounts),
        "--balance",
        str(balance_eth),
        "--no-request-size-limit",
        "--order",
        "fifo",
    ]
    if quiet:
        args.append("--quiet")
    if block_base_fee is not None:
        args += ["--block-base-fee-per-gas", str(block_base_fee)]
    if genesis_timestamp is not None:
        args += ["--timestamp", str(genesis_timestamp)]
    if state_path is not None:
        args += ["--state", str(state_path)]
        if state_interval:
            args += ["--state-interval", str(state_interval)]
    if extra_args:
        args += extra_args
    return args


# Detached nodes started by this process, kept so the Popen objects are not garbage
# collected while anvil runs (that warns) and so stop_local_node can reap its own children.
_DETACHED: dict[int, subprocess.Popen[bytes]] = {}


@dataclass
class AnvilProcess:
    """A running anvil child process started by :func:`start_anvil`."""

    proc: subprocess.Popen[bytes]
    url: str
    port: int
    chain_id: int
    state_path: Path | None
    log_path: Path
    _log_file: object = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def is_running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop anvil with SIGINT so it writes its ``--state`` file, then reap it.

        SIGINT (Ctrl-C) is what anvil handles as a graceful shutdown; it is escalated to
        SIGKILL only if anvil does not exit within ``timeout`` (the state is then lost).
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log_file is not None:
            with contextlib.suppress(Exception):
                self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None

    def __enter__(self) -> AnvilProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_anvil(
    *,
    port: int,
    state_path: Path | str | None = None,
    chain_id: int = DEFAULT_CHAIN_ID,
    host: str = "127.0.0.1",
    state_interval: int | None = None,
    log_path: Path | str | None = None,
    accounts: int = 10,
    balance_eth: int = 10_000,
    block_base_fee: int | None = None,
    genesis_timestamp: int | None = None,
    quiet: bool = True,
    detached: bool = False,
    startup_timeout: float = 30.0,
    extra_args: list[str] | None = None,
) -> AnvilProcess:
    """Start anvil on ``host:port`` and return once it answers JSON-RPC.

    ``detached=True`` puts anvil in its own session so it outlives the caller (used by
    :func:`ensure_local_node`); otherwise it is an ordinary child the caller must stop.
    Output goes to ``log_path`` (a file, never a pipe nobody reads, which would block
    anvil once the pipe buffer fills).
    """
    url = f"http://{host}:{port}"
    if node_chain_id(url, timeout=0.3) is not None:
        raise AnvilError(f"something already answers JSON-RPC at {url}")
    state = Path(state_path) if state_path is not None else None
    if state is not None:
        state.parent.mkdir(parents=True, exist_ok=True)
    log = Path(log_path) if log_path is not None else VAR_CHAIN_DIR / f"anvil-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    args = anvil_args(
        port=port,
        host=host,
        chain_id=chain_id,
        state_path=state,
        state_interval=state_interval,
        accounts=accounts,
        balance_eth=balance_eth,
        block_base_fee=block_base_fee,
        genesis_timestamp=genesis_timestamp,
        quiet=quiet,
        extra_args=extra_args,
    )
    log_file = log.open("ab")
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=detached,
            cwd=REPO_ROOT,
        )
    except OSError:
        log_file.close()
        raise
    node = AnvilProcess(
        proc=proc, url=url, port=port, chain_id=chain_id, state_path=state, log_path=log, _log_file=log_file
    )
    try:
        _wait_until_ready(url, proc, log, startup_timeout)
    except BaseException:
        node.stop(timeout=5)
        raise
    if detached:
        _DETACHED[port] = proc
    return node


# --- the detached development node -------------------------------------------------------


def pid_path(port: int) -> Path:
    """Pid file of the detached node on ``port`` (one per port, so test nodes never
    touch the development node's file)."""
    return VAR_CHAIN_DIR / f"anvil-{port}.pid"


def _read_pid(port: int) -> int | None:
    try:
        return int(pid_path(port).read_text().strip())
    except (OSError, ValueError):
        return None


def _is_anvil_pid(pid: int) -> bool:
    """True if ``pid`` is alive and is an anvil (guards against a recycled pid)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child (a zombie)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return b"anvil" in cmdline.read_bytes()
        except OSError:
            return False
    return True  # no /proc (macOS): trust the pid file


def _host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    if parsed.scheme != "http" or not parsed.hostname:
        raise AnvilError(f"expected an http://host:port URL for the local node, got {url!r}")
    return parsed.hostname, parsed.port or 8545


def ensure_local_node(
    url: str = DEFAULT_URL,
    state_path: Path | str | None = DEFAULT_STATE_PATH,
    *,
    chain_id: int = DEFAULT_CHAIN_ID,
    state_interval: int = 30,
    genesis_timestamp: int | None = None,
) -> int:
    """Make sure a node answers at ``url``; start a detached anvil if none does.

    Idempotent: a node already answering (ours or anyone's) is reused as is. A started node
    keeps its chain in ``state_path`` (loaded at start, saved every ``state_interval``
    seconds and on a clean stop), so ``stop`` + ``start`` continues the same chain. Only
    loopback hosts are started. ``genesis_timestamp`` (``--timestamp``) lets a chain hold
    history mined with past timestamps; it only matters when no state file exists yet.
    Returns the chain id of the node.
    """
    existing = node_chain_id(url)
    if existing is not None:
        return existing
    host, port = _host_port(url)
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise AnvilError(f"no node answers at {url}, and only a local node can be started")
    VAR_CHAIN_DIR.mkdir(parents=True, exist_ok=True)
    node = start_anvil(
        port=port,
        host="127.0.0.1" if host == "localhost" else host,
        state_path=state_path,
        chain_id=chain_id,
        state_interval=state_interval,
        genesis_timestamp=genesis_timestamp,
        log_path=VAR_CHAIN_DIR / f"anvil-{port}.log",
        detached=True,
    )
    pid_path(port).write_text(f"{node.pid}\n")
    # Our copy of the log handle is not needed: the detached process keeps its own.
    if node._log_file is not None:
        node._log_file.close()  # type: ignore[attr-defined]
    return chain_id


def stop_local_node(url: str = DEFAULT_URL, *, timeout: float = 30.0) -> bool:
    """Stop the detached anvil that :func:`ensure_local_node` started for ``url``.

    Returns True if one was stopped; a node at the URL that this module did not start
    (no pid file) is left alone.

    Sends SIGINT and waits for the process to exit so the state file is complete before
    this returns (a ``start`` right after must load the finished dump).
    """
    _, port = _host_port(url)
    pid = _read_pid(port)
    if pid is None or not _is_anvil_pid(pid):
        pid_path(port).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_anvil_pid(pid):
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    proc = _DETACHED.pop(port, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    pid_path(port).unlink(missing_ok=True)
    return True


def _status(url: str) -> int:
    chain_id = node_chain_id(url)
    pid = _read_pid(_host_port(url)[1])
    managed = pid is not None and _is_anvil_pid(pid)
    if chain_id is None:
        print(f"no node at {url}" + (f" (but anvil pid {pid} is alive)" if managed else ""))
        return 1
    block = int(str(rpc_call(url, "eth_blockNumber")), 16)
    owner = f"managed, pid {pid}" if managed else "not started by chain.node"
    print(f"node at {url}: chain id {chain_id}, block {block} ({owner})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``python -m chain.node start|stop|status``."""
    parser = argparse.ArgumentParser(prog="python -m chain.node", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--url", default=os.environ.get("CHAIN_RPC_URL", DEFAULT_URL))
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE_PATH, help="state file (start only)")
    parser.add_argument("--chain-id", type=int, default=DEFAULT_CHAIN_ID)
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            ensure_local_node(args.url, args.state, chain_id=args.chain_id)
            return _status(args.url)
        if args.command == "stop":
            stopped = stop_local_node(args.url)
            print("stopped anvil" if stopped else "no managed anvil running")
            return 0
        return _status(args.url)
    except AnvilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
