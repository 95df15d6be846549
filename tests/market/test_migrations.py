"""Upgrading a database keeps what the indexer stored.

Migration 0004 replaces the serial ``id`` of the indexer's tables by a primary key on the
columns that identify a row, changing tables in place (PostgreSQL) or rebuilding them
(SQLite). These tests write rows under 0003, migrate, and read every row back; and a
second copy of a stored log is still refused, now by the primary key.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.databases import scratch_postgres

ROOT = Path(__file__).resolve().parents[2]

ROWS = {
    "market_transfer": [
        "chain_id, block_number, tx_hash, log_index, timestamp, token_id, from_address, to_address, value, kind, "
        "usd_value, is_whale",
        [
            (31337, 7, "0x" + "a" * 64, 0, "2026-01-01 00:00:00", 1, "0x" + "1" * 40, "0x" + "2" * 40,
             "115792089237316195423570985008687907853269984665640564039457584007913129639935", "transfer", 1.5, True),
            (31337, 7, "0x" + "a" * 64, 1, "2026-01-01 00:00:00", 1, "0x" + "2" * 40, "0x" + "3" * 40, "12",
             "sell", None, False),
        ],
    ],
    "market_holderbalance": [
        "token_id, address, balance, updated_block",
        [(1, "0x" + "2" * 40, "5", 7), (1, "0x" + "3" * 40, "12", 7)],
    ],
    "market_candle": [
        "token_id, interval, bucket, open, high, low, close, volume, volume_usd, buy_volume_usd, trades",
        [(1, "1h", "2026-01-01 00:00:00", 1.0, 2.0, 0.5, 1.5, 10.0, 15.0, 5.0, 3)],
    ],
}  # fmt: skip


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]


def _insert_sql(table: str, columns: str, count: int) -> str:
    """An INSERT with ``?`` placeholders (``run`` turns them into PostgreSQL's)."""
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['?'] * count)})"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[dict[str, str], Callable[..., Any]]]:
    """An empty database of the test's own, with its environment and a ``run(sql, params)``."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="tmsite.settings", LOG_LEVEL="warning")
    if request.param == "sqlite":

        def run_sqlite(sql: str, params: tuple[Any, ...] = (), fetch: bool = False) -> Any:
            with sqlite3.connect(tmp_path / "tmsite.sqlite3") as conn:
                cursor = conn.execute(sql, params)
                return cursor.fetchall() if fetch else None

        yield env, run_sqlite
        return
    import psycopg

    with scratch_postgres(request.getfixturevalue("postgres_url"), "tmsite_migrate") as url:
        env["DATABASE_URL"] = url

        def run_pg(sql: str, params: tuple[Any, ...] = (), fetch: bool = False) -> Any:
            with psycopg.connect(url, autocommit=True) as conn:
                cursor = conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
                return cursor.fetchall() if fetch else None

        yield env, run_pg


def test_rekeying_keeps_every_stored_row_and_still_refuses_a_duplicate_log(database) -> None:
    env, run = database
    _manage(env, "migrate", "market", "0003", "--verbosity", "0")
    for table, (columns, rows) in ROWS.items():
        for row in rows:
            run(_insert_sql(table, columns, len(row)), row)
    before = {
        table: run(f"SELECT {columns} FROM {table} ORDER BY 1, 2, 3, 4", fetch=True)
        for table, (columns, _) in ROWS.items()
    }

    _manage(env, "migrate", "--verbosity", "0")

    after = {
        table: run(f"SELECT {columns} FROM {table} ORDER BY 1, 2, 3, 4", fetch=True)
        for table, (columns, _) in ROWS.items()
    }
    assert after == before
    assert [len(rows) for rows in after.values()] == [2, 2, 1]
    columns, rows = ROWS["market_transfer"]
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        run(_insert_sql("market_transfer", columns, len(rows[0])), rows[0])
