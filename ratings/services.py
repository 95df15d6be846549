"""Ratings services: compute and store grades, signals, anomalies and risk flags; train models.

``ratings_compute`` is the one write path for grades. It is idempotent: it re-grades from
the last stored hourly step (whose bucket may have been partial) to the market's last
bucket, upserting on the natural keys, so running it twice changes nothing and a run after
a reorg overwrites what the reorg changed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from market.models import Pool, Token
from market.rpc import RpcClient, RpcError
from monitoring.services import grading_run_record
from ratings import risk
from ratings.anomalies import anomalies_detect
from ratings.datapoints import REGISTRY_BY_NAME, MarketPanel, data_points_compute, data_points_matrix
from ratings.grading import (
    INVESTOR_HORIZON_HOURS,
    INVESTOR_RULES,
    RULES_VERSION,
    TRADABILITY_CAP_LABEL,
    TRADER_HORIZON_HOURS,
    TRADER_RULES,
    ArtifactMismatch,
    GradeResult,
    ModelArtifact,
    SignalBands,
    TrainingSet,
    TrainingWindowTooShort,
    artifact_load,
    artifact_save,
    forward_log_return,
    model_features,
    model_fit,
    rules_grade,
    signal_states,
    tradability_gate,
    tradable,
)
from ratings.market_data import (
    BURN_ADDRESSES,
    market_panel_load,
    market_time_range,
    panel_to_daily,
    pool_addresses,
    rated_tokens,
)
from ratings.models import (
    Anomaly,
    DataPointValue,
    GradeHistory,
    GradeInterval,
    GradeModel,
    RiskFlag,
    Signal,
    SignalChange,
    TokenRating,
)
from ratings.selectors import grade_model_active
from ratings.sentiment import LocalFeedSource, SocialSource
from tmsite.api.caching import data_version_bump

logger = logging.getLogger(__name__)


def graded_data_published() -> None:
    """New grades or risk flags are committed: every cached page part and API answer is stale
    (a new data version), and page 1 of each ratings order is rendered again by a worker, so
    the first visitors after a grading run get cached pages showing the new grades."""
    from ratings.tasks import warm_ratings_pages_task  # the tasks module imports this one

    warm_ratings_pages_task.delay(data_version_bump())


NOT_ENOUGH_HISTORY = "need {needed} days of hourly history to train a model, have {have:.1f}"
NOT_ENOUGH_ROWS = "{horizon}: only {rows} training rows with a known forward return; need {needed}"
NO_MARKET_DATA = "chain {chain_id}: no candles for rated tokens yet"
MIN_TRAINING_ROWS = 500
TOP_CONTRIBUTIONS = 6  # per grade, in TokenRating.top_contributions
SIGNAL_OF_STATE = {1: Signal.BULLISH, -1: Signal.BEARISH, 0: Signal.NEUTRAL}
STATE_OF_SIGNAL: dict[str, int] = {str(value): key for key, value in SIGNAL_OF_STATE.items()}
DATA_RISK_CODES = frozenset({"thin_liquidity", "liquidity_pulled", "holder_concentration"})
CHAIN_RISK_CODES = frozenset({"mintable", "owner_privileges", "honeypot"})
HOUR = timedelta(hours=1)


def _aware(value: np.datetime64) -> datetime:
    return datetime.fromtimestamp(int(value.astype("datetime64[s]").astype(np.int64)), tz=UTC)


def _day(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def signal_bands() -> SignalBands:
    return SignalBands(
        bull_enter=settings.RATINGS_SIGNAL_BULL_ENTER,
        bull_exit=settings.RATINGS_SIGNAL_BULL_EXIT,
        bear_enter=settings.RATINGS_SIGNAL_BEAR_ENTER,
        bear_exit=settings.RATINGS_SIGNAL_BEAR_EXIT,
    )


def social_source(*, chain_id: int) -> SocialSource:
    return LocalFeedSource.for_chain(var_dir=settings.VAR_DIR, chain_id=chain_id)


# --- grading ------------------------------------------------------------------------------------

_ARTIFACTS: dict[str, ModelArtifact] = {}


def _active_artifact(chain_id: int, horizon: str) -> ModelArtifact | None:
    model = grade_model_active(chain_id=chain_id, horizon=horizon)
    if model is None:
        return None
    if model.version not in _ARTIFACTS:
        try:
            _ARTIFACTS[model.version] = artifact_load(
                Path(settings.VAR_DIR) / model.artifact_path, sha256=model.artifact_sha256
            )
        except (OSError, ArtifactMismatch) as exc:
            logger.error("model %s unusable, falling back to %s: %s", model.version, RULES_VERSION, exc)
            return None
    return _ARTIFACTS[model.version]


@dataclass
class HorizonGrades:
    grades: np.ndarray  # (K, N) 0-100
    latest: GradeResult  # contributions at the last row
    version: str


def grades_compute(*, chain_id: int | None, values: dict[str, np.ndarray], horizon: str) -> HorizonGrades:
    """Grades of one horizon for every (row, token) of ``values``; the active model when the
    chain has one, else the rules, capped where the token was not tradable (see
    ``ratings.grading.tradable``). Contributions are explained for the last row only."""
    k, n = values["ret_24h"].shape
    traded = tradable(values, horizon, min_liquidity_usd=settings.RATINGS_THIN_LIQUIDITY_USD)
    cap = settings.RATINGS_UNTRADABLE_GRADE_CAP
    artifact = _active_artifact(chain_id, horizon) if chain_id is not None else None
    if artifact is not None:
        x = data_points_matrix(values, artifact.features)
        grades = artifact.grade(x).reshape(k, n)
        latest = artifact.explain(x[(k - 1) * n :])
        version = artifact.version
    else:
        rules = TRADER_RULES if horizon == GradeModel.Horizon.TRADER else INVESTOR_RULES
        grades = rules_grade({name: values[name].reshape(-1) for name in values}, rules).grades.reshape(k, n)
        latest = rules_grade({name: values[name][-1] for name in values}, rules)
        version = RULES_VERSION
    grades = np.where(traded, grades, np.minimum(grades, cap))
    return HorizonGrades(grades, tradability_gate(latest, traded[-1], cap=cap), version)


def _contributions(result: GradeResult, column: int, grade: str) -> list[dict]:
    order = np.argsort(-np.abs(result.contributions[column]))[:TOP_CONTRIBUTIONS]
    items = []
    for j in order:
        name = result.names[j]
        value = result.values[column, j]
        items.append(
            {
                "grade": grade,
                "name": name,
                "label": REGISTRY_BY_NAME[name].meaning if name in REGISTRY_BY_NAME else TRADABILITY_CAP_LABEL,
                "value": None if np.isnan(value) else round(float(value), 6),
                "contribution": round(float(result.contributions[column, j]), 3),
            }
        )
    return items


# --- the run ------------------------------------------------------------------------------------


@dataclass
class RatingsRun:
    chain_id: int
    tokens: int = 0
    steps: int = 0
    model_versions: dict[str, str] = field(default_factory=dict)
    anomalies: int = 0
    signal_changes: int = 0
    seconds: float = 0.0


def ratings_compute(
    *, chain_id: int, social: SocialSource | None = None, backfill_days: int | None = None
) -> RatingsRun:
    """Grade every rated token of the chain at each hour not graded yet (the last stored
    hour again, since its bucket may have grown), and refresh everything derived."""
    started = time.perf_counter()
    run = RatingsRun(chain_id)
    span = market_time_range(chain_id=chain_id)
    if span is None:
        logger.info(NO_MARKET_DATA.format(chain_id=chain_id))
        return run
    first, last = span
    backfill = timedelta(days=backfill_days or settings.RATINGS_BACKFILL_DAYS)
    done = GradeHistory.objects.filter(token__chain_id=chain_id, interval=GradeInterval.HOUR).aggregate(Max("at"))[
        "at__max"
    ]
    grade_from = max(first, last - backfill) if done is None else max(first, min(done, last))
    since = max(_day(first), _day(grade_from - timedelta(days=32)))
    panel = market_panel_load(chain_id=chain_id, since=since, social=social or social_source(chain_id=chain_id))
    if panel is None:
        return run
    rows = np.flatnonzero(panel.times >= np.datetime64(grade_from.replace(tzinfo=None), "s"))
    values = data_points_compute(panel, rows)
    tokens = {token.id: token for token in rated_tokens(chain_id=chain_id)}
    now = timezone.now()
    data_findings = data_risk_findings(values={name: v[-1] for name, v in values.items()})
    risk_flags_sync(
        token_ids=panel.token_ids,
        findings={int(panel.token_ids[i]): f for i, f in data_findings.items()},
        codes=DATA_RISK_CODES,
        now=now,
    )
    trader = grades_compute(chain_id=chain_id, values=values, horizon=GradeModel.Horizon.TRADER)
    investor = grades_compute(chain_id=chain_id, values=values, horizon=GradeModel.Horizon.INVESTOR)
    caps = _risk_caps(panel.token_ids)
    trader.grades[-1] = np.minimum(trader.grades[-1], caps)
    investor.grades[-1] = np.minimum(investor.grades[-1], caps)
    overall = (trader.grades + investor.grades) / 2
    version = trader.version if trader.version == investor.version else f"{trader.version}+{investor.version}"
    times = [_aware(panel.times[r]) for r in rows]
    # A token is graded at a step once it exists on the market there: priced, pooled or held.
    exists = (
        ~np.isnan(panel.series["close"][rows])
        | (panel.series["liquidity_usd"][rows] > 0)
        | (panel.series["holders"][rows] > 0)
    )
    exists[-1] = True  # every rated token gets a current rating
    with transaction.atomic():
        _history_store(panel, times, exists, trader, investor, overall, version)
        run.signal_changes = _signals_store(chain_id, panel, since=times[0])
        run.anomalies = _anomalies_store(panel, rows, times)
        _data_points_store(panel, values, times[-1])
        _ratings_store(tokens, panel, values, times[-1], now, trader, investor, overall, caps, version)
        transaction.on_commit(graded_data_published)  # cached pages and API answers are stale now
    run.tokens, run.steps = len(panel.token_ids), len(rows)
    run.model_versions = {"trader": trader.version, "investor": investor.version}
    run.seconds = time.perf_counter() - started
    logger.info(
        "chain %s: graded %s tokens x %s steps with %s in %.2fs (%s anomalies, %s signal changes)",
        chain_id,
        run.tokens,
        run.steps,
        version,
        run.seconds,
        run.anomalies,
        run.signal_changes,
    )
    grading_run_record(chain_id=chain_id, tokens=run.tokens, model_versions=run.model_versions, seconds=run.seconds)
    return run


def _risk_caps(token_ids: np.ndarray) -> np.ndarray:
    """Grade ceiling per token: ``RATINGS_RISK_GRADE_CAP`` under an active high-severity flag."""
    capped = set(
        RiskFlag.objects.filter(token_id__in=token_ids.tolist(), active=True, severity="high").values_list(
            "token_id", flat=True
        )
    )
    return np.array([settings.RATINGS_RISK_GRADE_CAP if t in capped else 100.0 for t in token_ids])


def _history_store(panel, times, exists, trader, investor, overall, version) -> None:
    hourly, daily = [], {}
    for k, at in enumerate(times):
        for i in np.flatnonzero(exists[k]):
            values = dict(
                trader_grade=float(trader.grades[k, i]),
                investor_grade=float(investor.grades[k, i]),
                overall_grade=float(overall[k, i]),
                model_version=version,
            )
            token_id = int(panel.token_ids[i])
            hourly.append(GradeHistory(token_id=token_id, interval=GradeInterval.HOUR, at=at, **values))
            # The day's row holds the grades of its latest hour.
            daily[(token_id, _day(at))] = GradeHistory(
                token_id=token_id, interval=GradeInterval.DAY, at=_day(at), **values
            )
    fields = ["trader_grade", "investor_grade", "overall_grade", "model_version"]
    for rows in (hourly, list(daily.values())):
        GradeHistory.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["token", "interval", "at"],
            update_fields=fields,
        )


def _signals_store(chain_id: int, panel: MarketPanel, *, since: datetime) -> int:
    """Replay the hysteresis over stored hourly Trader Grades from ``since``, starting from
    each token's signal before it; replace the signal changes from ``since`` on."""
    token_ids = [int(t) for t in panel.token_ids]
    col = {t: i for i, t in enumerate(token_ids)}
    history = list(
        GradeHistory.objects.filter(token_id__in=token_ids, interval=GradeInterval.HOUR, at__gte=since)
        .order_by("at")
        .values_list("token_id", "at", "trader_grade")
    )
    if not history:
        return 0
    stamps = sorted({at for _, at, _ in history})
    row_of = {at: i for i, at in enumerate(stamps)}
    grades = np.full((len(stamps), len(token_ids)), np.nan)
    for token_id, at, grade in history:
        grades[row_of[at], col[token_id]] = grade
    initial = np.zeros(len(token_ids), dtype=np.int8)
    before = SignalChange.objects.filter(token_id__in=token_ids, at__lt=since).order_by("token_id", "-at")
    seen: set[int] = set()
    for token_id, signal in before.values_list("token_id", "signal"):
        if token_id not in seen:
            seen.add(token_id)
            initial[col[token_id]] = STATE_OF_SIGNAL[signal]
    states = signal_states(grades, signal_bands(), initial)
    previous = np.vstack([initial[np.newaxis, :], states[:-1]])
    # A first graded step counts as a change, so every token has a "since".
    first_graded = np.isnan(np.vstack([np.full((1, len(token_ids)), np.nan), grades[:-1]])) & ~np.isnan(grades)
    first_graded &= ~np.isin(np.arange(len(token_ids)), [col[t] for t in seen])[np.newaxis, :]
    flips = (states != previous) | first_graded
    times_np = np.array([np.datetime64(at.replace(tzinfo=None), "s") for at in stamps])
    close_rows = np.searchsorted(panel.times, times_np)
    changes = []
    for r, i in zip(*np.nonzero(flips), strict=True):
        price = None
        if close_rows[r] < len(panel.times) and panel.times[close_rows[r]] == times_np[r]:
            value = panel.series["close"][close_rows[r], i]
            price = None if np.isnan(value) else float(value)
        changes.append(
            SignalChange(
                token_id=token_ids[i],
                at=stamps[r],
                signal=SIGNAL_OF_STATE[int(states[r, i])],
                trader_grade=float(grades[r, i]),
                price_usd=price,
            )
        )
    SignalChange.objects.filter(token_id__in=token_ids, at__gte=since).delete()
    SignalChange.objects.bulk_create(changes, batch_size=2000)
    return len(changes)


def _anomalies_store(panel: MarketPanel, rows: np.ndarray, times: list[datetime]) -> int:
    hits = anomalies_detect(
        panel, rows, threshold=settings.RATINGS_ANOMALY_Z, min_volume_usd=settings.RATINGS_ANOMALY_MIN_VOLUME_USD
    )
    row_time = dict(zip(rows.tolist(), times, strict=True))
    objects = [
        Anomaly(
            token_id=int(panel.token_ids[h.column]), at=row_time[h.row], kind=h.kind, score=h.score, reason=h.reason
        )
        for h in hits
    ]
    Anomaly.objects.bulk_create(
        objects,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["token", "at", "kind"],
        update_fields=["score", "reason"],
    )
    return len(objects)


def _data_points_store(panel: MarketPanel, hourly: dict[str, np.ndarray], at: datetime) -> None:
    daily_panel = panel_to_daily(panel)
    daily = data_points_compute(daily_panel)
    day_at = _aware(daily_panel.times[-1])
    objects = []
    for interval, values, when in ((GradeInterval.HOUR, hourly, at), (GradeInterval.DAY, daily, day_at)):
        for name, matrix in values.items():
            latest = matrix[-1]
            for i, token_id in enumerate(panel.token_ids):
                value = latest[i]
                objects.append(
                    DataPointValue(
                        token_id=int(token_id),
                        interval=interval,
                        name=name,
                        value=None if not np.isfinite(value) else float(value),
                        at=when,
                    )
                )
    DataPointValue.objects.bulk_create(
        objects,
        batch_size=5000,
        update_conflicts=True,
        unique_fields=["token", "interval", "name"],
        update_fields=["value", "at"],
    )


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _ratings_store(tokens, panel, values, as_of, now, trader, investor, overall, caps, version) -> None:
    token_ids = [int(t) for t in panel.token_ids]
    past = {
        (token_id, at): (tg, ig)
        for token_id, at, tg, ig in GradeHistory.objects.filter(
            token_id__in=token_ids,
            interval=GradeInterval.HOUR,
            at__in=[as_of - timedelta(hours=24), as_of - timedelta(days=7)],
        ).values_list("token_id", "at", "trader_grade", "investor_grade")
    }
    latest_signal: dict[int, tuple[str, datetime]] = {}
    for token_id, signal, at in (
        SignalChange.objects.filter(token_id__in=token_ids)
        .order_by("token_id", "at")
        .values_list("token_id", "signal", "at")
    ):
        latest_signal[token_id] = (signal, at)
    flags: dict[int, list[str]] = {}
    for token_id, code in (
        RiskFlag.objects.filter(token_id__in=token_ids, active=True).order_by("code").values_list("token_id", "code")
    ):
        flags.setdefault(token_id, []).append(code)
    ratings = []
    for i, token_id in enumerate(token_ids):
        token: Token = tokens[token_id]
        tg, ig = float(trader.grades[-1, i]), float(investor.grades[-1, i])
        day_ago, week_ago = (
            past.get((token_id, as_of - timedelta(hours=24))),
            past.get((token_id, as_of - timedelta(days=7))),
        )
        contributions = _contributions(trader.latest, i, "trader") + _contributions(investor.latest, i, "investor")
        if caps[i] < 100.0:
            contributions.insert(
                0,
                {
                    "grade": "both",
                    "name": "risk_cap",
                    "label": "grades capped by a high-severity risk flag",
                    "value": caps[i],
                    "contribution": round(min(0.0, caps[i] - float(trader.latest.grades[i])), 3),
                },
            )
        price = token.price_usd if token.price_usd is not None else _finite(panel.series["close"][-1, i])
        supply = token.units(token.total_supply) if token.total_supply is not None else None
        signal, since = latest_signal.get(token_id, (Signal.NEUTRAL, as_of))
        ratings.append(
            TokenRating(
                token_id=token_id,
                trader_grade=tg,
                investor_grade=ig,
                overall_grade=float(overall[-1, i]),
                trader_grade_change_24h=None if day_ago is None else tg - day_ago[0],
                trader_grade_change_7d=None if week_ago is None else tg - week_ago[0],
                investor_grade_change_24h=None if day_ago is None else ig - day_ago[1],
                investor_grade_change_7d=None if week_ago is None else ig - week_ago[1],
                signal=signal,
                signal_since=since,
                risk_flags=flags.get(token_id, []),
                top_contributions=contributions,
                model_version=version,
                computed_at=now,
                as_of=as_of,
                price_usd=price,
                price_change_24h=_finite(values["ret_24h"][-1, i]),
                price_change_7d=_finite(values["ret_7d"][-1, i]),
                volume_24h_usd=float(np.nan_to_num(values["volume_24h_usd"][-1, i])),
                market_cap_usd=None if price is None or supply is None else price * supply,
                liquidity_usd=token.liquidity_usd,
                holder_count=token.holder_count,
            )
        )
    update = [f.name for f in TokenRating._meta.concrete_fields if f.name not in ("id", "token")]
    TokenRating.objects.bulk_create(
        ratings, batch_size=2000, update_conflicts=True, unique_fields=["token"], update_fields=update
    )


# --- risk flags ---------------------------------------------------------------------------------


def data_risk_findings(*, values: dict[str, np.ndarray]) -> dict[int, list[risk.Finding]]:
    """Findings from the latest data points, by token column."""
    out: dict[int, list[risk.Finding]] = {}
    liquidity = np.nan_to_num(values["liquidity_usd"])
    drawdown = np.nan_to_num(values["liquidity_drawdown_7d"])
    top10, top1 = values["top10_share"], values["top1_share"]
    thin = settings.RATINGS_THIN_LIQUIDITY_USD
    for i in range(len(liquidity)):
        found = []
        if liquidity[i] < thin:
            severity = "high" if liquidity[i] < thin / 10 else "medium"
            found.append(
                risk.Finding(
                    "thin_liquidity", severity, f"${liquidity[i]:,.0f} in pools, under the ${thin:,.0f} threshold"
                )
            )
        peak = liquidity[i] / max(1e-9, 1 - drawdown[i] / 100)
        if (
            drawdown[i] >= settings.RATINGS_LIQUIDITY_PULLED_SHARE * 100
            and peak >= settings.RATINGS_LIQUIDITY_PULLED_MIN_PEAK_USD
        ):
            found.append(
                risk.Finding(
                    "liquidity_pulled",
                    "high",
                    f"pool liquidity fell {drawdown[i]:.0f}% from its 7-day peak of ${peak:,.0f} "
                    f"to ${liquidity[i]:,.0f}",
                )
            )
        if np.isfinite(top10[i]) and top10[i] >= settings.RATINGS_TOP10_SHARE_MAX:
            severity = "high" if np.isfinite(top1[i]) and top1[i] >= 0.5 else "medium"
            found.append(
                risk.Finding(
                    "holder_concentration",
                    severity,
                    f"the 10 largest holders (pools excluded) hold {top10[i]:.0%} of supply, the largest {top1[i]:.0%}",
                )
            )
        if found:
            out[i] = found
    return out


def risk_flags_sync(
    *, token_ids: np.ndarray | list[int], findings: dict[int, list[risk.Finding]], codes: frozenset[str], now: datetime
) -> None:
    """Make the flags of ``codes`` match ``findings`` for these tokens: new ones start an
    episode (``detected_at``), gone ones turn inactive, every checked one gets ``checked_at``."""
    token_ids = [int(t) for t in token_ids]
    existing = {
        (flag.token_id, flag.code): flag for flag in RiskFlag.objects.filter(token_id__in=token_ids, code__in=codes)
    }
    upserts = []
    for token_id in token_ids:
        for finding in findings.get(token_id, []):
            flag = existing.pop((token_id, finding.code), None)
            detected = flag.detected_at if flag is not None and flag.active else now
            upserts.append(
                RiskFlag(
                    token_id=token_id,
                    code=finding.code,
                    severity=finding.severity,
                    detail=finding.detail,
                    detected_at=detected,
                    checked_at=now,
                    active=True,
                )
            )
    RiskFlag.objects.bulk_create(
        upserts,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["token", "code"],
        update_fields=["severity", "detail", "detected_at", "checked_at", "active"],
    )
    gone = [flag.id for flag in existing.values() if flag.active]
    RiskFlag.objects.filter(id__in=gone).update(active=False, checked_at=now)


def chain_risk_check(*, token: Token, rpc: RpcClient) -> list[risk.Finding]:
    """Bytecode privileges and a simulated sell for one token (RPC calls, no writes)."""
    findings = risk.privilege_findings(rpc, token.address)
    pools = list(
        Pool.objects.filter(chain_id=token.chain_id)
        .filter(models_q_token(token))
        .select_related("dex", "token0", "token1")
        .order_by("-tvl_usd")
    )
    route = None
    for pool in pools:
        other = pool.token1 if pool.token0_id == token.id else pool.token0
        if other.quote_kind and pool.dex.router:
            route = risk.SellRoute(pool.dex.router, other.address, other.quote_kind == Token.QuoteKind.NATIVE)
            break
    if route is not None:
        holders = [
            address
            for address in token.balances.filter(balance__gt=0)
            .order_by("-balance")
            .values_list("address", flat=True)[:25]
        ]
        skip = pool_addresses(chain_id=token.chain_id) | BURN_ADDRESSES | {token.address}
        honeypot = risk.honeypot_finding(rpc, token=token.address, route=route, holders=holders, skip=skip)
        if honeypot is not None:
            findings.append(honeypot)
    return findings


def models_q_token(token: Token):
    from django.db.models import Q

    return Q(token0=token) | Q(token1=token)


def chain_risks_refresh(*, chain_id: int, rpc: RpcClient) -> dict[int, list[str]]:
    """Run the chain checks for every rated token and store the flags; returns codes by token id."""
    tokens = rated_tokens(chain_id=chain_id)
    findings: dict[int, list[risk.Finding]] = {}
    checked = []
    for token in tokens:  # RPC-bound, one token at a time; not part of the grading hot path
        try:
            findings[token.id] = chain_risk_check(token=token, rpc=rpc)
            checked.append(token.id)
        except RpcError as exc:
            logger.warning("risk check of %s failed: %s", token.address, exc)
    now = timezone.now()
    with transaction.atomic():
        risk_flags_sync(token_ids=checked, findings=findings, codes=CHAIN_RISK_CODES, now=now)
        active: dict[int, list[str]] = {}
        for token_id, code in (
            RiskFlag.objects.filter(token_id__in=checked, active=True).order_by("code").values_list("token_id", "code")
        ):
            active.setdefault(token_id, []).append(code)
        for token_id in checked:
            TokenRating.objects.filter(token_id=token_id).update(risk_flags=active.get(token_id, []))
        transaction.on_commit(graded_data_published)  # cached pages and API answers show the flags
    return {token_id: [f.code for f in found] for token_id, found in findings.items()}


# --- training -----------------------------------------------------------------------------------


class NotEnoughHistory(Exception):
    pass


@dataclass
class TrainingData:
    panel: MarketPanel
    rows: np.ndarray
    values: dict[str, np.ndarray]


def training_data_load(*, chain_id: int, stride_hours: int = 3, social: SocialSource | None = None) -> TrainingData:
    span = market_time_range(chain_id=chain_id)
    if span is None:
        raise NotEnoughHistory(NO_MARKET_DATA.format(chain_id=chain_id))
    have = (span[1] - span[0]) / timedelta(days=1)
    needed = settings.RATINGS_MODEL_MIN_HISTORY_DAYS
    if have < needed:
        raise NotEnoughHistory(NOT_ENOUGH_HISTORY.format(needed=needed, have=have))
    panel = market_panel_load(chain_id=chain_id, social=social or social_source(chain_id=chain_id))
    assert panel is not None
    rows = np.arange(24, len(panel.times), stride_hours)
    return TrainingData(panel, rows, data_points_compute(panel, rows))


def training_set(data: TrainingData, horizon: str, horizon_hours: int) -> TrainingSet:
    """Rows with a known forward return where the token was tradable (``tradable``).

    An untraded token's forward "return" is its carried-forward price not moving: 0, which
    no one could have earned (in a thin pool the first buy moves the price), yet it ranks
    above every falling token. Learning from such rows taught the model that a flat,
    untraded chart (no volatility, no drawdown) is a good outlook. The tradability cap
    grades them instead.
    """
    features = model_features()
    y = forward_log_return(data.panel.series["close"], data.rows, horizon_hours)  # (K, N)
    x = data_points_matrix(data.values, features)
    times = np.repeat(data.panel.times[data.rows], len(data.panel.token_ids))
    traded = tradable(data.values, horizon, min_liquidity_usd=settings.RATINGS_THIN_LIQUIDITY_USD)
    keep = np.isfinite(y.reshape(-1)) & traded.reshape(-1)
    return TrainingSet(x[keep], y.reshape(-1)[keep], times[keep], features)


@transaction.atomic
def grade_model_register(
    *, chain_id: int, horizon: str, artifact: ModelArtifact, info: dict, path: Path, sha256: str, activate: bool = True
) -> GradeModel:
    if activate:
        GradeModel.objects.filter(chain_id=chain_id, horizon=horizon, active=True).update(active=False)
    return GradeModel.objects.create(
        version=artifact.version,
        horizon=horizon,
        chain_id=chain_id,
        algorithm=artifact.algorithm,
        target=f"forward {TRADER_HORIZON_HOURS if horizon == 'trader' else INVESTOR_HORIZON_HOURS}h log return",
        features=artifact.features,
        train_start=_aware(info["train_start"]),
        train_end=_aware(info["train_end"]),
        holdout_start=_aware(info["holdout_start"]),
        holdout_end=_aware(info["holdout_end"]),
        train_rows=info["train_rows"],
        holdout_rows=info["holdout_rows"],
        train_metrics=info["train_metrics"],
        holdout_metrics=info["holdout_metrics"],
        artifact_path=str(path.relative_to(settings.VAR_DIR)),
        artifact_sha256=sha256,
        active=activate,
    )


def grade_models_train(
    *, chain_id: int, social: SocialSource | None = None, data: TrainingData | None = None
) -> list[GradeModel]:
    """Train a Trader and an Investor model on the chain's history, register and activate them.

    Raises ``NotEnoughHistory`` below ``RATINGS_MODEL_MIN_HISTORY_DAYS`` of candles.
    """
    data = data or training_data_load(chain_id=chain_id, social=social)
    models = []
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    for horizon, hours in (
        (GradeModel.Horizon.TRADER, TRADER_HORIZON_HOURS),
        (GradeModel.Horizon.INVESTOR, INVESTOR_HORIZON_HOURS),
    ):
        training = training_set(data, horizon, hours)
        if len(training.y) < MIN_TRAINING_ROWS:
            raise NotEnoughHistory(
                NOT_ENOUGH_ROWS.format(horizon=horizon, rows=len(training.y), needed=MIN_TRAINING_ROWS)
            )
        version = f"gbm-{horizon}-{chain_id}-{stamp}"
        try:
            artifact, info = model_fit(
                training, horizon=horizon, horizon_bars=hours, bar=np.timedelta64(3600, "s"), version=version
            )
        except TrainingWindowTooShort as exc:
            raise NotEnoughHistory(f"{horizon}: {exc}") from exc
        path = Path(settings.RATINGS_MODELS_DIR) / f"{version}.joblib"
        sha256 = artifact_save(artifact, path)
        models.append(
            grade_model_register(
                chain_id=chain_id, horizon=horizon, artifact=artifact, info=info, path=path, sha256=sha256
            )
        )
        logger.info("trained %s: holdout %s", version, info["holdout_metrics"])
    _ARTIFACTS.clear()
    return models
