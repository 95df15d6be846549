"""The reference the API benchmark compares against: FastAPI + asyncpg, the same two endpoints.

    BENCH_REF_DATABASE_URL=postgres://... uvicorn bench.api_bench_fastapi:app --workers 2

The token list (``?ordering=-trader_grade``, page of 50) and a token detail over the same
tables, with the same JSON fields, envelope and SQL as tmsite's ``/api/v1/`` answers, written
the way the FastAPI + asyncpg stack is usually written: an asyncpg pool per worker, pydantic
response models. It has no API keys, throttling or caching: it is the bar, not a rival site.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from eth_utils import to_checksum_address
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

PAGE_SIZE = 50
TOKEN_COLUMNS = """
    t.id, t.chain_id, t.address, t.symbol, t.name, t.decimals, t.total_supply, t.price_usd,
    t.liquidity_usd, t.holder_count, r.market_cap_usd, r.volume_24h_usd, r.price_change_24h,
    r.price_change_7d, r.trader_grade, r.investor_grade, r.overall_grade,
    r.trader_grade_change_24h, r.investor_grade_change_7d, r.signal, r.signal_since,
    r.risk_flags, r.model_version, r.as_of, r.computed_at
"""
LIST_SQL = f"""
    SELECT {TOKEN_COLUMNS}, r.trader_grade AS sort_key
    FROM market_token t JOIN ratings_tokenrating r ON r.token_id = t.id
    ORDER BY r.trader_grade DESC, t.id DESC LIMIT $1
"""
DETAIL_SQL = f"""
    SELECT {TOKEN_COLUMNS}, r.top_contributions
    FROM market_token t LEFT JOIN ratings_tokenrating r ON r.token_id = t.id
    WHERE t.chain_id = $1 AND t.address = $2
"""


class TokenOut(BaseModel):
    chain_id: int
    address: str
    symbol: str
    name: str
    decimals: int | None
    total_supply: str | None
    price_usd: float | None
    market_cap_usd: float | None
    volume_24h_usd: float | None
    liquidity_usd: float
    holder_count: int
    price_change_24h: float | None
    price_change_7d: float | None
    trader_grade: float | None
    investor_grade: float | None
    overall_grade: float | None
    trader_grade_change_24h: float | None
    investor_grade_change_7d: float | None
    signal: str | None
    signal_since: datetime | None
    risk_flags: list[str] | None
    model_version: str | None
    as_of: datetime | None
    computed_at: datetime | None


class TokenDetailOut(TokenOut):
    top_contributions: list[dict[str, Any]] | None


class PageMeta(BaseModel):
    next: str | None
    previous: str | None
    page_size: int


class TokenPage(BaseModel):
    data: list[TokenOut]
    meta: PageMeta


class TokenDetail(BaseModel):
    data: TokenDetailOut
    meta: dict[str, Any]


async def _init(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_REF_DATABASE_URL"], min_size=2, max_size=10, init=_init
    )
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


def _token(row: asyncpg.Record) -> dict[str, Any]:
    token = dict(row)
    supply = token["total_supply"]
    token["total_supply"] = None if supply is None else str(int(supply))
    return token


@app.get("/api/v1/tokens/", response_model=TokenPage)
async def tokens(request: Request, ordering: str = "-trader_grade") -> dict[str, Any]:
    async with request.app.state.pool.acquire() as connection:
        rows = await connection.fetch(LIST_SQL, PAGE_SIZE + 1)
    page = rows[:PAGE_SIZE]
    cursor = None
    if len(rows) > PAGE_SIZE:
        position = base64.urlsafe_b64encode(f"p={page[-1]['sort_key']}".encode()).decode()
        cursor = f"{request.url.scheme}://{request.url.netloc}{request.url.path}?cursor={position}&ordering={ordering}"
    return {"data": [_token(row) for row in page], "meta": {"next": cursor, "previous": None, "page_size": PAGE_SIZE}}


@app.get("/api/v1/tokens/{chain_id}/{address}/", response_model=TokenDetail)
async def token(request: Request, chain_id: int, address: str) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as connection:
        row = await connection.fetchrow(DETAIL_SQL, chain_id, to_checksum_address(address.lower()))
    if row is None:
        raise HTTPException(status_code=404, detail="no such token")
    return {"data": _token(row), "meta": {}}
