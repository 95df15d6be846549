from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from market.rpc import RpcUnavailable
from market.services import chain_index_to_head, chain_lock, rpc_client


class Command(BaseCommand):
    help = "Index the chain at WEB3_PROVIDER_URI up to its head (less INDEX_CONFIRMATIONS), printing progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rpc", default=settings.WEB3_PROVIDER_URI, help="JSON-RPC URL of the node")
        parser.add_argument("--follow", action="store_true", help="keep indexing new blocks until interrupted")
        parser.add_argument("--interval", type=float, default=settings.INDEX_INTERVAL, help="seconds between polls")
        parser.add_argument("--quiet", action="store_true", help="print only the summary")

    def handle(self, *args: Any, **options: Any) -> None:
        rpc = rpc_client(options["rpc"])
        chain_id = rpc.chain_id()
        progress = None if options["quiet"] else self.stdout.write
        while True:
            with chain_lock(chain_id, "index") as held:
                if not held:
                    self.stderr.write(f"chain {chain_id}: another indexer holds the lock; waiting")
                else:
                    try:
                        stats = chain_index_to_head(chain_id=chain_id, rpc=rpc, progress=progress)
                    except RpcUnavailable as exc:
                        if not options["follow"]:
                            raise
                        self.stderr.write(f"node unavailable ({exc}); retrying")
                    else:
                        if stats.batches or not options["follow"]:
                            rate = stats.logs / stats.seconds if stats.seconds else 0.0
                            self.stdout.write(
                                self.style.SUCCESS(
                                    f"chain {chain_id}: {stats.blocks} blocks, {stats.logs} logs in "
                                    f"{stats.seconds:.1f}s ({rate:.0f} logs/s), {stats.reorgs} reorgs"
                                )
                            )
            if not options["follow"]:
                return
            time.sleep(options["interval"])
