"""Ratings: grades, signals, anomalies and risk flags per token, with their history.

Grades are floats on 0-100 (higher is better). Every stored grade names the model version
that produced it (``rules-v0`` for the transparent rule-based grader, ``gbm-...`` for a
trained model whose registry row is ``GradeModel``). Rows are recomputed from indexed
market data, so a chain reorg is healed by the next ``ratings_compute`` run.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

GRADE_RANGE = Q(trader_grade__gte=0, trader_grade__lte=100, investor_grade__gte=0, investor_grade__lte=100) & Q(
    overall_grade__gte=0, overall_grade__lte=100
)


class Signal(models.TextChoices):
    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


class GradeInterval(models.TextChoices):
    HOUR = "1h"
    DAY = "1d"


class GradeModel(models.Model):
    """Registry of trained grade models: one row per version, the artifact pinned by sha256."""

    class Horizon(models.TextChoices):
        TRADER = "trader", "Trader Grade (short horizon)"
        INVESTOR = "investor", "Investor Grade (long horizon)"

    version = models.CharField(max_length=64, unique=True)
    horizon = models.CharField(max_length=8, choices=Horizon.choices)
    chain_id = models.PositiveIntegerField()
    algorithm = models.CharField(max_length=64, help_text="e.g. sklearn HistGradientBoostingRegressor")
    target = models.CharField(max_length=64, help_text="what the model predicts, e.g. forward 24h log return")
    features = models.JSONField(help_text="data point names, in the column order the model expects")
    train_start = models.DateTimeField()
    train_end = models.DateTimeField(help_text="last feature time used for training (exclusive of held-out)")
    holdout_start = models.DateTimeField()
    holdout_end = models.DateTimeField()
    train_rows = models.PositiveIntegerField()
    holdout_rows = models.PositiveIntegerField()
    train_metrics = models.JSONField(default=dict, help_text="spearman, r2, mae on the training window")
    holdout_metrics = models.JSONField(default=dict, help_text="spearman, r2, mae on the held-out window")
    artifact_path = models.CharField(max_length=255, help_text="relative to VAR_DIR")
    artifact_sha256 = models.CharField(max_length=64)
    active = models.BooleanField(default=False, help_text="the version used for new grades of this horizon")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "horizon"], condition=Q(active=True), name="grademodel_one_active_per_horizon"
            ),
            models.CheckConstraint(
                condition=Q(train_end__lte=models.F("holdout_start")), name="grademodel_holdout_after_train"
            ),
        ]
        indexes = [models.Index(fields=["chain_id", "horizon", "-created_at"], name="grademodel_recent")]

    def __str__(self) -> str:
        return self.version


class TokenRating(models.Model):
    """The current rating of one token, with denormalised market columns for fast sorting."""

    token = models.OneToOneField("market.Token", on_delete=models.CASCADE, related_name="rating")
    trader_grade = models.FloatField(help_text="0-100, short horizon (next 24h)")
    investor_grade = models.FloatField(help_text="0-100, long horizon (next 7d)")
    overall_grade = models.FloatField(help_text="0-100, mean of trader and investor grades")
    trader_grade_change_24h = models.FloatField(null=True, help_text="grade points vs 24h ago; null without history")
    trader_grade_change_7d = models.FloatField(null=True, help_text="grade points vs 7d ago")
    investor_grade_change_24h = models.FloatField(null=True, help_text="grade points vs 24h ago")
    investor_grade_change_7d = models.FloatField(null=True, help_text="grade points vs 7d ago")
    signal = models.CharField(max_length=8, choices=Signal.choices, default=Signal.NEUTRAL)
    signal_since = models.DateTimeField(null=True, help_text="time the current signal started")
    risk_flags = models.JSONField(default=list, blank=True, help_text='active risk flag codes, e.g. ["honeypot"]')
    top_contributions = models.JSONField(
        default=list, blank=True, help_text="[{name, label, value, contribution}] grade points, largest first"
    )
    # Two GradeModel versions joined by "+" when the horizons differ (up to 2 x 64 + 1).
    model_version = models.CharField(
        max_length=129, help_text="'rules-v0', a GradeModel.version, or trader+investor versions"
    )
    computed_at = models.DateTimeField(help_text="wall-clock time the rating was computed")
    as_of = models.DateTimeField(null=True, help_text="market time (start of the last hourly bucket) it describes")
    price_usd = models.FloatField(null=True)
    price_change_24h = models.FloatField(null=True, help_text="percent")
    price_change_7d = models.FloatField(null=True, help_text="percent")
    volume_24h_usd = models.FloatField(default=0.0)
    market_cap_usd = models.FloatField(
        null=True, help_text="fully diluted: price_usd x total supply (all minted tokens, not circulating)"
    )
    liquidity_usd = models.FloatField(default=0.0)
    holder_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=GRADE_RANGE, name="rating_grades_0_100"),
            models.CheckConstraint(condition=Q(signal__in=Signal.values), name="rating_signal_valid"),
        ]
        indexes = [
            models.Index(fields=["-trader_grade"], name="rating_trader_top"),  # ratings list default sort
            models.Index(fields=["-investor_grade"], name="rating_investor_top"),
            models.Index(fields=["-overall_grade"], name="rating_overall_top"),
            models.Index(fields=["-market_cap_usd"], name="rating_mcap_top"),
            models.Index(fields=["-volume_24h_usd"], name="rating_volume_top"),
            models.Index(fields=["signal", "-trader_grade"], name="rating_signal_top"),  # filter by signal
        ]

    def __str__(self) -> str:
        return f"rating of token {self.token_id}"


class GradeHistory(models.Model):
    token = models.ForeignKey("market.Token", on_delete=models.CASCADE, related_name="grade_history")
    interval = models.CharField(max_length=2, choices=GradeInterval.choices)
    at = models.DateTimeField(help_text="market time (candle bucket end) the grades describe")
    trader_grade = models.FloatField()
    investor_grade = models.FloatField()
    overall_grade = models.FloatField()
    model_version = models.CharField(max_length=129)  # as TokenRating.model_version

    class Meta:
        verbose_name_plural = "grade history"
        constraints = [
            models.UniqueConstraint(fields=["token", "interval", "at"], name="gradehistory_one_per_step"),
            models.CheckConstraint(condition=GRADE_RANGE, name="gradehistory_grades_0_100"),
        ]
        indexes = [models.Index(fields=["token", "interval", "-at"], name="gradehistory_recent")]  # grade chart

    def __str__(self) -> str:
        return f"{self.token_id} {self.interval} {self.at:%Y-%m-%d %H:%M}"


class SignalChange(models.Model):
    """A flip of a token's signal (hysteresis keeps these rare)."""

    token = models.ForeignKey("market.Token", on_delete=models.CASCADE, related_name="signal_changes")
    at = models.DateTimeField()
    signal = models.CharField(max_length=8, choices=Signal.choices)
    trader_grade = models.FloatField(help_text="0-100 at the flip")
    price_usd = models.FloatField(null=True, help_text="close at the flip, for backtests")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "at"], name="signalchange_one_per_time"),
            models.CheckConstraint(condition=Q(signal__in=Signal.values), name="signalchange_signal_valid"),
        ]
        indexes = [models.Index(fields=["token", "-at"], name="signalchange_recent")]  # signal history

    def __str__(self) -> str:
        return f"{self.token_id} {self.signal} at {self.at:%Y-%m-%d %H:%M}"


class Anomaly(models.Model):
    class Kind(models.TextChoices):
        PRICE_WITHOUT_VOLUME = "price_without_volume", "price moved on little volume"
        VOLUME_WITHOUT_PRICE = "volume_without_price", "volume spiked without a price move"
        VOLUME_SPIKE = "volume_spike", "volume far above its norm"
        PRICE_SHOCK = "price_shock", "price move far outside its norm"

    token = models.ForeignKey("market.Token", on_delete=models.CASCADE, related_name="anomalies")
    at = models.DateTimeField(help_text="start of the hourly bucket where it happened")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    score = models.FloatField(help_text="robust z-score (median/MAD units); larger is stranger")
    reason = models.CharField(max_length=255, help_text="plain words, for the token page")

    class Meta:
        verbose_name_plural = "anomalies"
        constraints = [models.UniqueConstraint(fields=["token", "at", "kind"], name="anomaly_one_per_kind_time")]
        indexes = [models.Index(fields=["token", "-at"], name="anomaly_recent")]  # token page feed

    def __str__(self) -> str:
        return f"{self.token_id} {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class RiskFlag(models.Model):
    class Code(models.TextChoices):
        THIN_LIQUIDITY = "thin_liquidity", "thin liquidity"
        LIQUIDITY_PULLED = "liquidity_pulled", "liquidity pulled (soft rug)"
        HOLDER_CONCENTRATION = "holder_concentration", "extreme holder concentration"
        MINTABLE = "mintable", "owner can mint new tokens"
        OWNER_PRIVILEGES = "owner_privileges", "owner can change token rules"
        HONEYPOT = "honeypot", "sells fail (honeypot)"

    class Severity(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"

    token = models.ForeignKey("market.Token", on_delete=models.CASCADE, related_name="risk_flags")
    code = models.CharField(max_length=24, choices=Code.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    detail = models.TextField(help_text="the evidence, in plain words")
    detected_at = models.DateTimeField(help_text="first time the current episode was seen")
    checked_at = models.DateTimeField(help_text="last time the check ran")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "code"], name="riskflag_one_per_code")]
        indexes = [models.Index(fields=["token", "-active", "code"], name="riskflag_token")]  # token page

    def __str__(self) -> str:
        return f"{self.token_id} {self.code}"


class DataPointValue(models.Model):
    """The latest value of each data point per token and interval (the registry says what each means)."""

    token = models.ForeignKey("market.Token", on_delete=models.CASCADE, related_name="data_points")
    interval = models.CharField(max_length=2, choices=GradeInterval.choices)
    name = models.CharField(max_length=48, help_text="a name from ratings.datapoints.REGISTRY")
    value = models.FloatField(null=True, help_text="null when the window has no data yet")
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "interval", "name"], name="datapoint_one_per_name")]

    def __str__(self) -> str:
        return f"{self.token_id} {self.name}={self.value}"
