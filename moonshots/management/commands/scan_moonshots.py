from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from market.services import chain_lock, rpc_client
from moonshots.services import moonshots_scan


class Command(BaseCommand):
    help = "Close moonshot picks that meet an exit rule, then pick new low-cap tokens (run after compute_grades)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain-id", type=int, default=settings.CHAIN_ID)
        parser.add_argument("--rpc", default=settings.WEB3_PROVIDER_URI, help="JSON-RPC URL for the sell simulation")
        parser.add_argument("--no-rpc", action="store_true", help="rely on stored risk flags only")

    def handle(self, *args: Any, **options: Any) -> None:
        chain_id = options["chain_id"]
        with chain_lock(chain_id, "moonshots") as held:
            if not held:
                self.stderr.write(f"chain {chain_id}: another moonshot scan holds the lock")
                return
            rpc = None if options["no_rpc"] else rpc_client(options["rpc"])
            run = moonshots_scan(chain_id=chain_id, rpc=rpc)
        self.stdout.write(
            f"chain {chain_id} at market time {run.market_time:%Y-%m-%d %H:%M} UTC: {run.scored} tokens scored, "
            f"{len(run.picked)} picked {[p.token.symbol for p in run.picked]}, "
            f"{len(run.exited)} closed {[(p.token.symbol, p.exit_reason) for p in run.exited]}, "
            f"kept out by risk flags {run.blocked}"
        )
