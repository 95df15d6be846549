"""``manage.py demo``: the whole local product in one command (what ``make run`` calls).

Starts (or reuses) the local chain, simulates a market on it, indexes it, grades it, prints
the demo login and serves the site, while the simulator keeps trading and the indexer and
grader keep up in the background. A chain that was already simulated and is still running
is reused as it is.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chain.node import DEFAULT_STATE_PATH, ensure_local_node, node_chain_id, rpc_call, stop_local_node
from market.services import chain_index_reset, chain_index_to_head, rpc_client
from moonshots.services import moonshot_scan_log_reset

HISTORY_DONE = "history done"


def demo_state_path() -> Path:
    """The demo chain's anvil state: ``var/chain/state.json`` (what ``make chain`` reuses), or
    ``<VAR_DIR>/chain/state.json`` when ``VAR_DIR`` moves the demo elsewhere, so a demo on
    another port and ``VAR_DIR`` never deletes or overwrites the default chain's state."""
    default_var = Path(settings.BASE_DIR) / "var"
    if Path(settings.VAR_DIR).resolve() == default_var.resolve():
        return DEFAULT_STATE_PATH
    return Path(settings.VAR_DIR) / "chain" / "state.json"


class Command(BaseCommand):
    help = "Start the local chain, simulate and index a market, grade it, and serve the site."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tokens", type=int, default=60)
        parser.add_argument("--days", type=float, default=30.0)
        parser.add_argument("--block-seconds", type=int, default=1800, help="simulated seconds per history block")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--rpc", default=settings.WEB3_PROVIDER_URI)
        parser.add_argument("--addr", default="127.0.0.1:8000", help="where to serve the site")
        parser.add_argument("--fresh", action="store_true", help="discard a running chain and simulate anew")
        parser.add_argument("--no-serve", action="store_true", help="prepare the data, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        self.log_dir = Path(settings.VAR_DIR) / "log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[subprocess.Popen[bytes]] = []
        atexit.register(self._stop_children)
        rpc = options["rpc"]
        # Every step, in this process and in the children, talks to the same node.
        settings.WEB3_PROVIDER_URI = os.environ["WEB3_PROVIDER_URI"] = rpc
        started = time.perf_counter()

        if options["fresh"] or not self._market_running(rpc):
            self._simulate(options)
        else:
            self.stdout.write(f"reusing the simulated market on {rpc}")
        client = rpc_client(rpc)
        chain_id = client.chain_id()

        self.stdout.write("indexing the chain ...")
        stats = chain_index_to_head(chain_id=chain_id, rpc=client, progress=self._progress)
        self.stdout.write(f"indexed {stats.logs} logs in {stats.seconds:.1f}s")
        self.stdout.write("grading tokens ...")
        call_command("compute_grades", "--chain-id", str(chain_id), "--risk", "--rpc", rpc, stdout=self.stdout)
        try:
            call_command("train_grade_models", "--chain-id", str(chain_id), stdout=self.stdout)
        except CommandError as exc:  # a short history keeps the transparent rule grades
            self.stdout.write(f"grade models not trained ({exc}); rule grades serve")
        else:
            call_command("compute_grades", "--chain-id", str(chain_id), stdout=self.stdout)
        # Moonshots over the simulated history, hour by hour and point in time, then now.
        call_command("scan_moonshots", "--replay", stdout=self.stdout)
        call_command("moonshot_report", "--chain-id", str(chain_id), stdout=self.stdout)
        call_command("create_demo_user", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"ready in {time.perf_counter() - started:.0f}s"))
        if options["no_serve"]:
            return

        self._spawn("indexer", [sys.executable, "manage.py", "index_chain", "--follow", "--quiet", "--rpc", rpc])
        threading.Thread(target=self._regrade_forever, args=(chain_id, rpc), daemon=True).start()
        self.stdout.write(
            self.style.SUCCESS(
                f"Serving http://{options['addr']}/  (demo login: {settings.DEMO_USERNAME} / {settings.DEMO_PASSWORD}; "
                f"logs in {self.log_dir})"
            )
        )
        call_command("runserver", options["addr"], use_reloader=False)

    # --- steps ------------------------------------------------------------------------------

    def _market_running(self, rpc: str) -> bool:
        """A node answers and the registry's WETH has code on it: the simulated market is there."""
        if node_chain_id(rpc) is None:
            return False
        from chain.registry import quote_assets

        weth = quote_assets(chain_id=int(str(rpc_call(rpc, "eth_chainId")), 16)).weth
        return bool(weth) and rpc_call(rpc, "eth_getCode", [weth, "latest"]) not in ("0x", None)

    def _simulate(self, options: dict[str, Any]) -> None:
        rpc = options["rpc"]
        if node_chain_id(rpc) is not None and not stop_local_node(rpc):
            raise CommandError(f"a node this project did not start answers at {rpc}; stop it or pass --rpc")
        state_path = demo_state_path()
        state_path.unlink(missing_ok=True)
        start = int(time.time() - options["days"] * 86_400) // 3600 * 3600
        chain_id = ensure_local_node(rpc, state_path, genesis_timestamp=start - 86_400)
        chain_index_reset(chain_id=chain_id)  # a new chain reuses the chain id: forget the old one
        moonshot_scan_log_reset(chain_id=chain_id)
        log = self.log_dir / "simulator.log"
        self.stdout.write(
            f"simulating {options['tokens']} tokens x {options['days']:g} days on {rpc} (progress in {log}) ..."
        )
        self._spawn(
            "simulator",
            [
                sys.executable,
                "manage.py",
                "simulate_market",
                "--tokens",
                str(options["tokens"]),
                "--days",
                str(options["days"]),
                "--seed",
                str(options["seed"]),
                "--start-time",
                str(start),
                "--block-seconds",
                str(options["block_seconds"]),
                "--rpc",
                rpc,
                "--follow",
            ],
        )
        shown = 0
        while True:
            text = log.read_text() if log.exists() else ""
            lines = text.splitlines()
            for line in lines[shown:]:
                self.stdout.write(f"  {line}")
            shown = len(lines)
            if HISTORY_DONE in text:
                return
            if self.children[-1].poll() is not None:
                raise CommandError(f"the simulator stopped: see {log}")
            time.sleep(1.0)

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.log_dir / f"{name}.log").open("wb")
        self.children.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR))

    def _stop_children(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()

    def _regrade_forever(self, chain_id: int, rpc: str) -> None:
        """Grades and moonshots follow the live market (the beat schedule does this with Redis)."""
        while True:
            time.sleep(settings.DEMO_REGRADE_INTERVAL)
            try:
                call_command("compute_grades", "--chain-id", str(chain_id), "--rpc", rpc, stdout=sys.stderr)
                call_command("scan_moonshots", stdout=self.stdout)
            except Exception as exc:  # keep serving; the next round retries
                self.stderr.write(f"regrading failed: {exc}")

    def _progress(self, line: str) -> None:
        self.stdout.write(f"  {line}")
