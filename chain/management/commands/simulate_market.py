"""``manage.py simulate_market``: build and trade a local DEX market (see chain.simulator)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chain.node import VAR_CHAIN_DIR, node_chain_id, pid_path, start_anvil
from chain.simulator import SimulationConfig, SimulationError, default_start_time, simulate_market


class Command(BaseCommand):
    help = "Deploy tokens, DEXes and pools on the local chain and simulate days of trading."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tokens", type=int, default=60, help="tokens to launch (default 60)")
        parser.add_argument("--days", type=float, default=30.0, help="days of history (default 30)")
        parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
        parser.add_argument("--start-time", type=int, default=None, help="unix start (default now - days, hourly)")
        parser.add_argument("--intensity", type=float, default=1.0, help="activity multiplier (default 1.0)")
        parser.add_argument("--block-seconds", type=int, default=900, help="simulated seconds per block (default 900)")
        parser.add_argument("--follow", action="store_true", help="keep trading in real time after the history")
        parser.add_argument("--rpc", default=settings.WEB3_PROVIDER_URI, help="JSON-RPC URL of the node")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tokens"] < 1 or options["days"] <= 0 or options["intensity"] <= 0 or options["block_seconds"] < 1:
            raise CommandError("--tokens, --days, --intensity and --block-seconds must be positive")
        start = options["start_time"] or default_start_time(options["days"])
        _start_local_node_if_missing(options["rpc"], genesis=start - 86_400, say=self.stdout.write)
        config = SimulationConfig(
            rpc_url=options["rpc"],
            tokens=options["tokens"],
            days=options["days"],
            seed=options["seed"],
            start_time=start,
            intensity=options["intensity"],
            block_seconds=options["block_seconds"],
            follow=options["follow"],
        )
        try:
            result = simulate_market(config, progress=self.stdout.write)
        except SimulationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"scenarios: {result.scenarios_path}\nsocial feed: {result.social_path}"))


def _start_local_node_if_missing(url: str, *, genesis: int, say: Any) -> None:
    """Start a detached anvil whose genesis predates the history, if nothing answers at ``url``.

    The history is mined with past timestamps, which a node started "now" refuses; an
    existing node is used as is (the simulator explains if it is too new). The node keeps
    no ``--state`` file: the shared one may hold a newer chain, which anvil would load.
    """
    if node_chain_id(url) is not None:
        return
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise CommandError(f"no node answers at {url}")
    port = parsed.port or 8545
    node = start_anvil(
        port=port,
        detached=True,
        log_path=VAR_CHAIN_DIR / f"anvil-{port}.log",
        extra_args=["--timestamp", str(genesis)],
    )
    pid_path(port).write_text(f"{node.pid}\n")
    say(f"started anvil (pid {node.pid}) at {url}, genesis {genesis}; `python -m chain.node stop` stops it")
