"""Query filters of the token list (django-filter); a bad value is a 400 naming the parameter."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from market.models import Candle, Token
from ratings.models import RiskFlag, Signal
from tmsite.api.selectors import TOKEN_ORDERINGS
from tmsite.api.serializers import CHAIN_ID_MAX

ORDERING_CHOICES = [(f"{sign}{key}", f"{sign}{key}") for key in TOKEN_ORDERINGS for sign in ("-", "")]


def _grade(field: str, lookup: str) -> django_filters.NumberFilter:
    return django_filters.NumberFilter(field_name=f"rating__{field}", lookup_expr=lookup, min_value=0, max_value=100)


class TokenFilter(django_filters.FilterSet):
    chain_id = django_filters.NumberFilter(field_name="chain_id", min_value=1, max_value=CHAIN_ID_MAX)
    trader_grade_min = _grade("trader_grade", "gte")
    trader_grade_max = _grade("trader_grade", "lte")
    investor_grade_min = _grade("investor_grade", "gte")
    investor_grade_max = _grade("investor_grade", "lte")
    overall_grade_min = _grade("overall_grade", "gte")
    overall_grade_max = _grade("overall_grade", "lte")
    market_cap_min = django_filters.NumberFilter(field_name="rating__market_cap_usd", lookup_expr="gte", min_value=0)
    market_cap_max = django_filters.NumberFilter(field_name="rating__market_cap_usd", lookup_expr="lte", min_value=0)
    signal = django_filters.ChoiceFilter(field_name="rating__signal", choices=Signal.choices)
    risk_flag = django_filters.ChoiceFilter(choices=RiskFlag.Code.choices, method="filter_risk_flag")
    search = django_filters.CharFilter(method="filter_search", max_length=64, help_text="symbol, name or address")
    ordering = django_filters.ChoiceFilter(
        choices=ORDERING_CHOICES, method="keep", empty_label=None, help_text="sort key; '-' for descending"
    )

    class Meta:
        model = Token
        fields: list[str] = []

    def filter_risk_flag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(risk_flags__code=value, risk_flags__active=True)

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(Q(symbol__icontains=value) | Q(name__icontains=value) | Q(address__iexact=value))

    def keep(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset  # ordering is applied by the cursor pagination


class CandleFilter(django_filters.FilterSet):
    start = django_filters.IsoDateTimeFilter(field_name="bucket", lookup_expr="gte", help_text="ISO-8601, inclusive")
    end = django_filters.IsoDateTimeFilter(field_name="bucket", lookup_expr="lt", help_text="ISO-8601, exclusive")

    class Meta:
        model = Candle
        fields: list[str] = []
