"""Admin: ratings are computed, never typed in, so every grade table is read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ratings.models import Anomaly, DataPointValue, GradeHistory, GradeModel, RiskFlag, SignalChange, TokenRating


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TokenRating)
class TokenRatingAdmin(ReadOnlyAdmin):
    list_display = (
        "token",
        "trader_grade",
        "investor_grade",
        "overall_grade",
        "signal",
        "model_version",
        "computed_at",
    )
    list_filter = ("signal", "model_version")
    search_fields = ("token__symbol", "token__address")
    list_select_related = ("token",)


@admin.register(GradeHistory)
class GradeHistoryAdmin(ReadOnlyAdmin):
    list_display = ("token", "interval", "at", "trader_grade", "investor_grade", "overall_grade", "model_version")
    list_filter = ("interval", "model_version")
    search_fields = ("token__symbol",)
    list_select_related = ("token",)


@admin.register(SignalChange)
class SignalChangeAdmin(ReadOnlyAdmin):
    list_display = ("token", "at", "signal", "trader_grade", "price_usd")
    list_filter = ("signal",)
    list_select_related = ("token",)


@admin.register(Anomaly)
class AnomalyAdmin(ReadOnlyAdmin):
    list_display = ("token", "at", "kind", "score", "reason")
    list_filter = ("kind",)
    list_select_related = ("token",)


@admin.register(RiskFlag)
class RiskFlagAdmin(ReadOnlyAdmin):
    list_display = ("token", "code", "severity", "active", "detected_at", "checked_at")
    list_filter = ("code", "severity", "active")
    list_select_related = ("token",)


@admin.register(DataPointValue)
class DataPointValueAdmin(ReadOnlyAdmin):
    list_display = ("token", "interval", "name", "value", "at")
    list_filter = ("interval", "name")
    list_select_related = ("token",)


@admin.register(GradeModel)
class GradeModelAdmin(ReadOnlyAdmin):
    list_display = ("version", "horizon", "chain_id", "active", "train_rows", "holdout_rows", "created_at")
    list_filter = ("horizon", "active")
