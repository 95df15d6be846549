"""Read-only access to indexed market data, shaped for the ratings pipeline.

``market_panel_load`` turns candles, pool snapshots, transfers, activity counts and social
posts into a ``MarketPanel``: one (time x token) array per series on a gap-free hourly (or
daily) grid. Quote assets (stablecoins, wrapped native) are not rated and not loaded.
Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from market.models import Candle, HolderBalance, Pool, PoolSnapshot, Token, TokenActivity, Transfer
from ratings.datapoints import PANEL_SERIES, MarketPanel
from ratings.sentiment import POSITIVE_THRESHOLD, SocialSource, posts_score

HOUR = np.timedelta64(3600, "s")
BURN_ADDRESSES = frozenset({"0x0000000000000000000000000000000000000000", "0x000000000000000000000000000000000000dEaD"})


def rated_tokens(*, chain_id: int) -> list[Token]:
    """Tokens that get grades: every indexed token that is not a quote asset, by id."""
    return list(Token.objects.filter(chain_id=chain_id, quote_kind="").order_by("id"))


def pool_addresses(*, chain_id: int) -> set[str]:
    return set(Pool.objects.filter(chain_id=chain_id).values_list("address", flat=True))


def _hour_floor(value: datetime) -> np.datetime64:
    return np.datetime64(value.replace(minute=0, second=0, microsecond=0, tzinfo=None), "s")


def market_time_range(*, chain_id: int) -> tuple[datetime, datetime] | None:
    """First hourly candle of a rated token and the last market hour (UTC): the later of the
    last candle and the last pool snapshot, so liquidity pulled after the last trade counts.
    None before any trade."""
    rows = Candle.objects.filter(token__chain_id=chain_id, token__quote_kind="", interval="1h")
    first = rows.order_by("bucket").values_list("bucket", flat=True).first()
    last = rows.order_by("-bucket").values_list("bucket", flat=True).first()
    if first is None or last is None:
        return None
    snapshot = (
        PoolSnapshot.objects.filter(pool__chain_id=chain_id).order_by("-hour").values_list("hour", flat=True).first()
    )
    return first, max(last, snapshot or last)


def _grid_index(times: np.ndarray, start: np.datetime64) -> np.ndarray:
    return ((times - start) // HOUR).astype(np.int64)


def _scatter(
    shape: tuple[int, int], t_idx: np.ndarray, col: np.ndarray, values: np.ndarray, *, add: bool = True
) -> np.ndarray:
    out = np.zeros(shape)
    keep = (t_idx >= 0) & (t_idx < shape[0]) & (col >= 0)
    if add:
        np.add.at(out, (t_idx[keep], col[keep]), values[keep])
    else:
        out[t_idx[keep], col[keep]] = values[keep]
    return out


def _ffill(x: np.ndarray, observed: np.ndarray, initial: np.ndarray | None = None) -> np.ndarray:
    """Carry the last observed value of each column down the rows (``initial`` before the first)."""
    idx = np.where(observed, np.arange(len(x))[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    cols = np.arange(x.shape[1])[None, :]
    filled = x[np.clip(idx, 0, None), cols]
    before = np.full(x.shape[1], np.nan) if initial is None else initial
    return np.where(idx >= 0, filled, before[None, :])


def market_panel_load(
    *,
    chain_id: int,
    interval: str = "1h",
    since: datetime | None = None,
    until: datetime | None = None,
    social: SocialSource | None = None,
) -> MarketPanel | None:
    """The rated tokens of a chain as a panel, hourly grid from ``since`` (default: first
    candle) to ``until`` (default: last candle), both bucket starts, inclusive.

    ``interval="1d"`` aggregates the hourly grid into UTC days (close = last, high/low =
    extremes, flows = sums, levels such as liquidity and holder count = end of day).
    """
    span = market_time_range(chain_id=chain_id)
    tokens = rated_tokens(chain_id=chain_id)
    if span is None or not tokens:
        return None
    start = _hour_floor(since or span[0])
    end = _hour_floor(until or span[1])
    if interval == "1d":
        start = start.astype("datetime64[D]").astype("datetime64[s]")
        end = (end.astype("datetime64[D]") + 1).astype("datetime64[s]") - HOUR
    times = np.arange(start, end + HOUR, HOUR)
    t, n = len(times), len(tokens)
    col_of = {token.id: i for i, token in enumerate(tokens)}
    token_ids = np.array([token.id for token in tokens], dtype=np.int64)
    start_dt = pd.Timestamp(start).to_pydatetime().replace(tzinfo=UTC)
    end_dt = pd.Timestamp(end).to_pydatetime().replace(tzinfo=UTC) + timedelta(hours=1)
    series: dict[str, np.ndarray] = {}

    # Candles: close carried forward from before the window, so the first row is priced.
    candles = pd.DataFrame.from_records(
        Candle.objects.filter(token_id__in=token_ids, interval="1h", bucket__lt=end_dt)
        .filter(bucket__gte=start_dt - timedelta(days=3650))
        .values_list("token_id", "bucket", "high", "low", "close", "volume_usd", "buy_volume_usd", "trades"),
        columns=["token_id", "bucket", "high", "low", "close", "volume_usd", "buy_volume_usd", "trades"],
    )
    if len(candles):
        tidx = _grid_index(candles["bucket"].dt.tz_localize(None).to_numpy().astype("datetime64[s]"), start)
        col = candles["token_id"].map(col_of).to_numpy()
        before = tidx < 0
        last_before = np.full(n, np.nan)
        if before.any():
            prior = candles[before].sort_values("bucket").groupby("token_id")["close"].last()
            last_before[[col_of[i] for i in prior.index]] = prior.to_numpy()
        inside = ~before
        observed = _scatter((t, n), tidx[inside], col[inside], np.ones(inside.sum()), add=False) > 0
        for name in ("close", "high", "low"):
            series[name] = _scatter((t, n), tidx[inside], col[inside], candles[name].to_numpy()[inside], add=False)
        series["close"] = _ffill(series["close"], observed, last_before)
        for name in ("high", "low"):
            series[name] = np.where(observed, series[name], series["close"])
        for name in ("volume_usd", "buy_volume_usd", "trades"):
            series[name] = _scatter((t, n), tidx[inside], col[inside], candles[name].to_numpy(dtype=float)[inside])
    else:
        for name in ("close", "high", "low"):
            series[name] = np.full((t, n), np.nan)

    series["liquidity_usd"] = _liquidity_series(chain_id, tokens, col_of, times, start, start_dt, end_dt)
    holders, new_holders = _holder_series(chain_id, tokens, col_of, times, start, end_dt)
    series["holders"], series["new_holders"] = holders, new_holders
    series.update(_whale_series(token_ids, col_of, (t, n), start, start_dt, end_dt))
    series.update(_activity_series(token_ids, col_of, (t, n), start, start_dt, end_dt))
    series.update(_social_series(social, tokens, col_of, (t, n), start, start_dt, end_dt))
    for name in PANEL_SERIES:
        series.setdefault(name, np.zeros((t, n)))

    supply = np.array([token.units(token.total_supply or 0) for token in tokens], dtype=float)
    top10, top1, gini = holder_distribution(chain_id=chain_id, tokens=tokens)
    fee = _token_fees(chain_id, tokens)
    panel = MarketPanel("1h", times, token_ids, series, supply, top10, top1, gini, fee)
    return panel_to_daily(panel) if interval == "1d" else panel


def _liquidity_series(
    chain_id: int,
    tokens: list[Token],
    col_of: dict[int, int],
    times: np.ndarray,
    start: np.datetime64,
    start_dt: datetime,
    end_dt: datetime,
) -> np.ndarray:
    """USD liquidity per token and hour: sum of the TVL of its pools, each carried forward."""
    t, n = len(times), len(tokens)
    pools = list(Pool.objects.filter(chain_id=chain_id).values_list("id", "token0_id", "token1_id"))
    if not pools:
        return np.zeros((t, n))
    pool_col = {pid: i for i, (pid, _, _) in enumerate(pools)}
    snaps = pd.DataFrame.from_records(
        PoolSnapshot.objects.filter(pool_id__in=pool_col, hour__lt=end_dt).values_list("pool_id", "hour", "tvl_usd"),
        columns=["pool_id", "hour", "tvl_usd"],
    )
    tvl = np.zeros((t, len(pools)))
    if len(snaps):
        tidx = _grid_index(snaps["hour"].dt.tz_localize(None).to_numpy().astype("datetime64[s]"), start)
        pcol = snaps["pool_id"].map(pool_col).to_numpy()
        before = tidx < 0
        initial = np.zeros(len(pools))
        if before.any():
            prior = snaps[before].sort_values("hour").groupby("pool_id")["tvl_usd"].last()
            initial[[pool_col[i] for i in prior.index]] = prior.to_numpy()
        inside = ~before
        observed = _scatter((t, len(pools)), tidx[inside], pcol[inside], np.ones(inside.sum()), add=False) > 0
        values = _scatter((t, len(pools)), tidx[inside], pcol[inside], snaps["tvl_usd"].to_numpy()[inside], add=False)
        tvl = _ffill(values, observed, initial)
    # Pool -> token incidence: a pool's TVL counts for both of its tokens that are rated.
    incidence = np.zeros((len(pools), n))
    for i, (_, token0, token1) in enumerate(pools):
        for token_id in (token0, token1):
            if token_id in col_of:
                incidence[i, col_of[token_id]] = 1.0
    return np.nan_to_num(tvl) @ incidence


def _holder_series(
    chain_id: int,
    tokens: list[Token],
    col_of: dict[int, int],
    times: np.ndarray,
    start: np.datetime64,
    end_dt: datetime,
) -> tuple[np.ndarray, np.ndarray]:
    """Holder count and first-time holders per hour, replayed from every transfer.

    Balances are replayed in whole tokens as floats (statistics, not accounting); a balance
    counts as held above a dust of 1e-12 of supply, so float residue of a full sell does not.
    """
    t, n = len(times), len(tokens)
    rows = list(
        Transfer.objects.filter(token_id__in=col_of, timestamp__lt=end_dt)
        .order_by("block_number", "log_index")
        .values_list("token_id", "timestamp", "from_address", "to_address", "value")
    )
    if not rows:
        return np.zeros((t, n)), np.zeros((t, n))
    scale = {token.id: 10 ** (18 if token.decimals is None else token.decimals) for token in tokens}
    dust = {token.id: max(token.units(token.total_supply or 0) * 1e-12, 1e-18) for token in tokens}
    token_col, stamps, addresses, deltas = [], [], [], []
    for token_id, stamp, sender, receiver, value in rows:
        amount = int(value) / scale[token_id]
        for address, sign in ((sender, -1.0), (receiver, 1.0)):
            if address in BURN_ADDRESSES:
                continue
            token_col.append(token_id)
            stamps.append(stamp)
            addresses.append(address)
            deltas.append(sign * amount)
    frame = pd.DataFrame({"token_id": token_col, "stamp": stamps, "address": addresses, "delta": deltas})
    frame["balance"] = frame.groupby(["token_id", "address"], sort=False)["delta"].cumsum()
    frame["held"] = frame["balance"] > frame["token_id"].map(dust)
    was = frame.groupby(["token_id", "address"], sort=False)["held"].shift(1, fill_value=False)
    frame["change"] = frame["held"].astype(int) - was.astype(int)
    frame["first"] = frame["held"] & ~frame.duplicated(["token_id", "address", "held"]) & frame["held"]
    tidx = _grid_index(frame["stamp"].dt.tz_localize(None).to_numpy().astype("datetime64[s]"), start)
    col = frame["token_id"].map(col_of).to_numpy()
    before = tidx < 0
    # Holders at the start of the grid: net changes before it.
    initial = np.zeros(n)
    np.add.at(initial, col[before], frame["change"].to_numpy()[before])
    clipped = np.clip(tidx, 0, None)
    changes = _scatter((t, n), clipped[~before], col[~before], frame["change"].to_numpy(dtype=float)[~before])
    holders = initial[None, :] + np.cumsum(changes, axis=0)
    new = _scatter((t, n), clipped[~before], col[~before], frame["first"].to_numpy(dtype=float)[~before])
    return holders, new


def _whale_series(
    token_ids: np.ndarray,
    col_of: dict[int, int],
    shape: tuple[int, int],
    start: np.datetime64,
    start_dt: datetime,
    end_dt: datetime,
) -> dict[str, np.ndarray]:
    frame = pd.DataFrame.from_records(
        Transfer.objects.filter(
            token_id__in=token_ids,
            is_whale=True,
            kind__in=("buy", "sell"),
            timestamp__gte=start_dt,
            timestamp__lt=end_dt,
        ).values_list("token_id", "timestamp", "kind", "usd_value"),
        columns=["token_id", "timestamp", "kind", "usd_value"],
    )
    out: dict[str, np.ndarray] = {}
    if not len(frame):
        return out
    tidx = _grid_index(frame["timestamp"].dt.tz_localize(None).to_numpy().astype("datetime64[s]"), start)
    col = frame["token_id"].map(col_of).to_numpy()
    usd = frame["usd_value"].fillna(0.0).to_numpy()
    buy = (frame["kind"] == "buy").to_numpy()
    out["whale_buy_usd"] = _scatter(shape, tidx[buy], col[buy], usd[buy])
    out["whale_sell_usd"] = _scatter(shape, tidx[~buy], col[~buy], usd[~buy])
    out["whale_buys"] = _scatter(shape, tidx[buy], col[buy], np.ones(buy.sum()))
    out["whale_sells"] = _scatter(shape, tidx[~buy], col[~buy], np.ones((~buy).sum()))
    return out


def _activity_series(
    token_ids: np.ndarray,
    col_of: dict[int, int],
    shape: tuple[int, int],
    start: np.datetime64,
    start_dt: datetime,
    end_dt: datetime,
) -> dict[str, np.ndarray]:
    names = ["transfers", "active_addresses", "swaps", "unique_traders", "whale_transfers"]
    frame = pd.DataFrame.from_records(
        TokenActivity.objects.filter(
            token_id__in=token_ids, interval="1h", bucket__gte=start_dt, bucket__lt=end_dt
        ).values_list("token_id", "bucket", *names),
        columns=["token_id", "bucket", *names],
    )
    if not len(frame):
        return {}
    tidx = _grid_index(frame["bucket"].dt.tz_localize(None).to_numpy().astype("datetime64[s]"), start)
    col = frame["token_id"].map(col_of).to_numpy()
    return {name: _scatter(shape, tidx, col, frame[name].to_numpy(dtype=float)) for name in names}


def _social_series(
    social: SocialSource | None,
    tokens: list[Token],
    col_of: dict[int, int],
    shape: tuple[int, int],
    start: np.datetime64,
    start_dt: datetime,
    end_dt: datetime,
) -> dict[str, np.ndarray]:
    if social is None:
        return {}
    by_address = {token.address.lower(): token.id for token in tokens}
    scored = [
        post
        for post in posts_score(social.posts(since=int(start_dt.timestamp()), until=int(end_dt.timestamp())))
        if post.token.lower() in by_address
    ]
    if not scored:
        return {}
    stamps = np.array([post.timestamp for post in scored], dtype="datetime64[s]")
    tidx = _grid_index(stamps, start)
    col = np.array([col_of[by_address[post.token.lower()]] for post in scored])
    score = np.array([post.score for post in scored])
    return {
        "sentiment_sum": _scatter(shape, tidx, col, score),
        "mentions": _scatter(shape, tidx, col, np.ones(len(scored))),
        "positive_mentions": _scatter(shape, tidx, col, (score > POSITIVE_THRESHOLD).astype(float)),
    }


def holder_distribution(*, chain_id: int, tokens: Iterable[Token]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Current top-10 share, top-1 share and Gini of balances per token, excluding pools and
    burn addresses; shares are of total supply (0-1), NaN for tokens without supply."""
    tokens = list(tokens)
    n = len(tokens)
    col_of = {token.id: i for i, token in enumerate(tokens)}
    skip = pool_addresses(chain_id=chain_id) | BURN_ADDRESSES | {token.address for token in tokens}
    rows = [
        (token_id, int(balance))
        for token_id, address, balance in HolderBalance.objects.filter(token_id__in=col_of).values_list(
            "token_id", "address", "balance"
        )
        if address not in skip and int(balance) > 0
    ]
    top10, top1, gini = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    if not rows:
        return top10, top1, gini
    scale = {token.id: 10 ** (18 if token.decimals is None else token.decimals) for token in tokens}
    frame = pd.DataFrame(rows, columns=["token_id", "balance"])
    frame["balance"] = [b / scale[t] for t, b in rows]
    frame = frame.sort_values(["token_id", "balance"], ascending=[True, False])
    frame["rank_desc"] = frame.groupby("token_id").cumcount()
    supply = pd.Series({token.id: token.units(token.total_supply or 0) for token in tokens})
    top10_sum = frame[frame["rank_desc"] < 10].groupby("token_id")["balance"].sum()
    top1_sum = frame[frame["rank_desc"] == 0].groupby("token_id")["balance"].sum()
    # Gini with balances ascending: G = 2*sum(i*x_i)/(n*sum x) - (n+1)/n, i = 1..n.
    count = frame.groupby("token_id")["balance"].transform("size")
    frame["i_asc"] = count - frame["rank_desc"]
    weighted = (frame["i_asc"] * frame["balance"]).groupby(frame["token_id"]).sum()
    total = frame.groupby("token_id")["balance"].sum()
    size = frame.groupby("token_id").size()
    g = 2 * weighted / (size * total) - (size + 1) / size
    for token_id in total.index:
        i = col_of[token_id]
        if supply[token_id] > 0:
            top10[i] = min(top10_sum[token_id] / supply[token_id], 1.0)
            top1[i] = min(top1_sum[token_id] / supply[token_id], 1.0)
        gini[i] = g[token_id]
    return top10, top1, gini


def _token_fees(chain_id: int, tokens: list[Token]) -> np.ndarray:
    """Swap fee of each token's deepest pool, as a fraction (0.003 when it has none)."""
    fee = np.full(len(tokens), 0.003)
    col_of = {token.id: i for i, token in enumerate(tokens)}
    best: dict[int, float] = {}
    for token0, token1, tvl, fee_bps in Pool.objects.filter(chain_id=chain_id).values_list(
        "token0_id", "token1_id", "tvl_usd", "dex__fee_bps"
    ):
        for token_id in (token0, token1):
            if token_id in col_of and tvl >= best.get(token_id, -1.0):
                best[token_id] = tvl
                fee[col_of[token_id]] = fee_bps / 10_000
    return fee


LEVEL_SERIES = ("close", "liquidity_usd", "holders")


def panel_to_daily(panel: MarketPanel) -> MarketPanel:
    """Aggregate an hourly panel whose grid starts at midnight into UTC days."""
    pad = -len(panel.times) % 24  # the current, partial day is kept: padded with "nothing happened"
    days = (len(panel.times) + pad) // 24
    series = {}
    for name, arr in panel.series.items():
        if pad:
            fill = (
                arr[-1:]
                if name in LEVEL_SERIES
                else np.full((1, arr.shape[1]), np.nan if name in ("high", "low") else 0.0)
            )
            arr = np.vstack([arr, np.repeat(fill, pad, axis=0)])
        cube = arr.reshape(days, 24, -1)
        if name in LEVEL_SERIES:
            series[name] = cube[:, -1]
        elif name == "high":
            series[name] = np.fmax.reduce(cube, axis=1)  # NaN only where the whole day is
        elif name == "low":
            series[name] = np.fmin.reduce(cube, axis=1)
        else:
            series[name] = cube.sum(axis=1)
    return MarketPanel(
        "1d",
        panel.times[::24],
        panel.token_ids,
        series,
        panel.supply,
        panel.top10_share,
        panel.top1_share,
        panel.gini,
        panel.fee,
        dict(panel.extra),
    )
