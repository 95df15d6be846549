"""CPU seconds of local processes from ``/proc`` (Linux): the node's and PostgreSQL's share of a run.

A benchmark on one machine shares its cores between the client, the node and the database,
so a phase's wall time is bounded below by the CPU all of them use divided by the cores.
These readings let the benchmarks print that bound beside the times they measure.
"""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text.rsplit(")", 1)[1].split()  # fields after the command name, which may hold spaces


def process_cpu(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU seconds of ``pid`` (0 if it is gone); with ``reaped_children``, also
    those of its children that exited and were waited for."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def postgres_cpu() -> float | None:
    """CPU seconds used so far by the local PostgreSQL server: every ``postgres`` process, and,
    through the postmaster's count of its reaped children, the backends that already exited
    (a client's connection closing ends its backend). None where there is no ``/proc`` or no
    local server."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    pids: dict[int, int] = {}  # pid -> parent pid
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        fields = _stat(int(entry.name))
        if fields is not None:
            pids[int(entry.name)] = int(fields[1])
    if not pids:
        return None
    return sum(process_cpu(pid, reaped_children=parent not in pids) for pid, parent in pids.items())
