"""Public API views: thin HTTP over selectors and services."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.drainage import get_override
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from market import selectors as market_selectors
from market.models import Candle, Interval, Token, Transfer
from ratings import selectors as ratings_selectors
from ratings.models import Anomaly, GradeHistory
from tmsite.api import selectors, services
from tmsite.api import serializers as out
from tmsite.api.base import ERRORS, ApiView
from tmsite.api.filters import ORDERING_CHOICES, CandleFilter, TokenFilter
from wallets import selectors as wallet_selectors

TOKEN_PATH = [
    OpenApiParameter("chain_id", int, OpenApiParameter.PATH, description="EVM chain id, e.g. 31337"),
    OpenApiParameter(
        "address",
        {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
        OpenApiParameter.PATH,
        description="token contract address (any letter case)",
    ),
]


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    form = serializer_class(data=request.query_params)
    form.is_valid(raise_exception=True)
    return dict(form.validated_data)


def _envelope(data: Any, **meta: Any) -> dict[str, Any]:
    return {"data": data, "meta": meta}


_ENVELOPES: dict[str, Any] = {}


def _one(data: serializers.BaseSerializer, name: str, **meta: Any) -> Any:
    """The documented ``{"data": ..., "meta": {...}}`` envelope, one component per name, with
    the data serializer's example (a list of one for ``many=True``) enveloped."""
    if name not in _ENVELOPES:
        envelope = inline_serializer(name, {"data": data, "meta": serializers.DictField()})
        many = isinstance(data, serializers.ListSerializer)
        inner = data.child if many else data
        examples = [
            OpenApiExample(
                example.name,
                value={"data": [example.value] if many else example.value, "meta": meta},
                response_only=True,
            )
            for example in get_override(type(inner), "examples", [])
        ]
        if examples:
            extend_schema_serializer(examples=examples)(type(envelope))
        _ENVELOPES[name] = envelope
    return _ENVELOPES[name]


# --- Tokens -------------------------------------------------------------------------------

# The filters' bounds, in the schema too (django-filter's own description leaves them out).
_GRADE = {"type": "number", "minimum": 0, "maximum": 100}
TOKEN_FILTER_BOUNDS = [
    *(
        OpenApiParameter(f"{grade}_grade_{end}", _GRADE, description=f"{grade} grade {end} (0-100)")
        for grade in ("trader", "investor", "overall")
        for end in ("min", "max")
    ),
    *(
        OpenApiParameter(
            f"market_cap_{end}", {"type": "number", "minimum": 0, "maximum": 1e50}, description=f"USD, {end}"
        )
        for end in ("min", "max")
    ),
    OpenApiParameter("chain_id", {"type": "integer", "minimum": 1, "maximum": out.CHAIN_ID_MAX}),
    OpenApiParameter("search", {"type": "string", "maxLength": 64}, description="symbol, name or address"),
]


PLAIN_PARAMETERS = {"ordering", "cursor", "page_size"}  # checked by the pagination or below
ORDERING_VALUES = {value for value, _ in ORDERING_CHOICES}


class TokenListView(ApiView):
    """Rated tokens, filtered and ordered (default: best Trader Grade first)."""

    serializer_class = out.TokenSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = TokenFilter
    cache_responses = True

    def get_queryset(self) -> Any:
        return selectors.tokens_rated_rows(ordering=self._ordering())

    def _ordering(self) -> str:
        value = self.request.query_params.get("ordering") or "-trader_grade"
        return value if value.removeprefix("-") in selectors.TOKEN_ORDERINGS else "-trader_grade"

    def get_cursor_ordering(self) -> tuple[str, ...]:
        descending = self._ordering().startswith("-")
        return ("-sort_key", "-id") if descending else ("sort_key", "id")

    def filter_queryset(self, queryset: Any) -> Any:
        # The common call names no filter (a page in some order): django-filter's form would
        # only re-check the ordering, at ~1-2 ms a call; any other parameter goes through it.
        params = self.request.query_params
        if params.keys() <= PLAIN_PARAMETERS and all(len(params.getlist(name)) == 1 for name in params):
            if params.get("ordering", "-trader_grade") in ORDERING_VALUES:
                return queryset
        return super().filter_queryset(queryset)

    @extend_schema(
        operation_id="tokens_list",
        parameters=TOKEN_FILTER_BOUNDS,
        summary="Tokens with grades, signal and market figures",
        responses={200: out.TokenSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Any:
        return self.answer(self.build)

    def build(self) -> dict[str, Any]:
        """The answer's envelope (the API edge builds an uncached one with this too)."""
        return self.page(self.filter_queryset(self.get_queryset()), rows_out=out.token_out)


class TokenView(ApiView):
    """Base of the views under ``tokens/<chain_id>/<address>/``."""

    def token(self) -> Token:
        return selectors.token_get(chain_id=self.kwargs["chain_id"], address=self.kwargs["address"])


@extend_schema(parameters=TOKEN_PATH)
class TokenDetailView(TokenView):
    serializer_class = out.TokenDetailSerializer
    cache_responses = True

    @extend_schema(
        operation_id="token_detail",
        summary="One token by chain and address",
        responses={200: _one(out.TokenDetailSerializer(), "TokenDetailEnvelope"), **ERRORS},
    )
    def get(self, request: Request, chain_id: int, address: str) -> Any:
        return self.answer(self.build)

    def build(self) -> dict[str, Any]:
        """The answer's envelope, 404 when not indexed (the API edge builds an uncached one
        with this too)."""
        token = selectors.token_values(chain_id=self.kwargs["chain_id"], address=self.kwargs["address"])
        return _envelope(out.token_out(token))


@extend_schema(parameters=TOKEN_PATH)
class GradesView(TokenView):
    serializer_class = out.GradesSerializer
    cache_responses = True

    @extend_schema(
        operation_id="token_grades",
        summary="Current Trader, Investor and overall grades",
        responses={200: _one(out.GradesSerializer(), "GradesEnvelope"), **ERRORS},
    )
    def get(self, request: Request, chain_id: int, address: str) -> Any:
        def build() -> dict[str, Any]:
            token = self.token()
            rating = getattr(token, "rating", None)
            if rating is None:
                raise Http404("token is not rated")
            return _envelope(out.GradesSerializer(rating).data)

        return self.answer(build)


@extend_schema(parameters=TOKEN_PATH)
class GradeHistoryView(TokenView):
    serializer_class = out.GradeHistorySerializer
    cursor_ordering = ("-at",)
    cache_responses = True

    @extend_schema(
        operation_id="token_grade_history",
        summary="Grade history, newest first",
        parameters=[out.IntervalSerializer],
        responses={200: out.GradeHistorySerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, chain_id: int, address: str) -> Any:
        interval = _query(out.IntervalSerializer, request)["interval"]
        return self.answer(lambda: self.page(GradeHistory.objects.filter(token=self.token(), interval=interval)))


@extend_schema(parameters=TOKEN_PATH)
class SignalsView(TokenView):
    serializer_class = out.SignalChangeSerializer
    cursor_ordering = ("-at",)
    cache_responses = True

    @extend_schema(
        operation_id="token_signals",
        summary="Trading signal flips, newest first, with signal vs holding returns",
        description="meta.returns compounds following every signal (long bullish, short bearish, flat neutral) "
        "from the first flip to now, against holding the token over the same span.",
        responses={200: out.SignalChangeSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, chain_id: int, address: str) -> Any:
        def build() -> dict[str, Any]:
            token = self.token()
            body = self.page(selectors.signal_changes(token=token), token=token)
            returns = selectors.signal_returns(token=token)
            since = returns["since"]
            body["meta"]["returns"] = {**returns, "since": since.isoformat().replace("+00:00", "Z") if since else None}
            return body

        return self.answer(build)


@extend_schema(parameters=TOKEN_PATH)
class CandlesView(TokenView):
    serializer_class = out.CandleSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CandleFilter
    cursor_ordering = ("-bucket",)
    queryset = Candle.objects.none()  # the model, for the schema's filter parameters
    cache_responses = True
    interval = Interval.HOUR

    @extend_schema(
        summary="OHLCV candles in USD, newest first", responses={200: out.CandleSerializer(many=True), **ERRORS}
    )
    def get(self, request: Request, chain_id: int, address: str) -> Any:
        return self.answer(
            lambda: self.page(self.filter_queryset(selectors.candles(token=self.token(), interval=self.interval)))
        )


@extend_schema(parameters=TOKEN_PATH)
class DataPointsView(TokenView):
    serializer_class = out.DataPointSerializer
    cache_responses = True

    @extend_schema(
        operation_id="token_data_points",
        summary="Latest value of every data point behind the grades",
        parameters=[out.IntervalSerializer],
        responses={200: _one(out.DataPointSerializer(many=True), "DataPointsEnvelope", interval="1h"), **ERRORS},
    )
    def get(self, request: Request, chain_id: int, address: str) -> Any:
        interval = _query(out.IntervalSerializer, request)["interval"]

        def build() -> dict[str, Any]:
            rows = ratings_selectors.token_data_points(token=self.token(), interval=interval)
            return _envelope(out.DataPointSerializer(rows, many=True).data, interval=interval)

        return self.answer(build)


@extend_schema(parameters=TOKEN_PATH)
class HoldersView(TokenView):
    serializer_class = out.HolderSerializer
    cache_responses = True

    @extend_schema(
        operation_id="token_holders",
        summary="Largest holders, biggest first",
        parameters=[out.LimitSerializer],
        responses={200: _one(out.HolderSerializer(many=True), "HoldersEnvelope", limit=20, holder_count=412), **ERRORS},
    )
    def get(self, request: Request, chain_id: int, address: str) -> Any:
        limit = _query(out.LimitSerializer, request)["limit"]

        def build() -> dict[str, Any]:
            token = self.token()
            rows = market_selectors.top_holders(token=token, limit=limit)
            data = out.HolderSerializer(rows, many=True, context={"token": token}).data
            return _envelope(data, limit=limit, holder_count=token.holder_count)

        return self.answer(build)


@extend_schema(parameters=TOKEN_PATH)
class WhaleTransfersView(TokenView):
    serializer_class = out.WhaleTransferSerializer
    cursor_ordering = ("-timestamp", "-log_index")
    cache_responses = True

    @extend_schema(
        operation_id="token_whale_transfers",
        summary="Whale transfers, newest first",
        responses={200: out.WhaleTransferSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, chain_id: int, address: str) -> Any:
        return self.answer(lambda: self.page(Transfer.objects.filter(token=self.token(), is_whale=True)))


@extend_schema(parameters=TOKEN_PATH)
class AnomaliesView(TokenView):
    serializer_class = out.AnomalySerializer
    cursor_ordering = ("-at", "kind")
    cache_responses = True

    @extend_schema(
        operation_id="token_anomalies",
        summary="Price/volume anomalies, newest first",
        responses={200: out.AnomalySerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, chain_id: int, address: str) -> Any:
        return self.answer(lambda: self.page(Anomaly.objects.filter(token=self.token())))


@extend_schema(parameters=TOKEN_PATH)
class RiskFlagsView(TokenView):
    serializer_class = out.RiskFlagSerializer
    cache_responses = True

    @extend_schema(
        operation_id="token_risk_flags",
        summary="Risk flags (active ones unless include_inactive)",
        parameters=[out.RiskFlagQuerySerializer],
        responses={200: _one(out.RiskFlagSerializer(many=True), "RiskFlagsEnvelope"), **ERRORS},
    )
    def get(self, request: Request, chain_id: int, address: str) -> Any:
        include_inactive = _query(out.RiskFlagQuerySerializer, request)["include_inactive"]

        def build() -> dict[str, Any]:
            rows = ratings_selectors.token_risk_flags(token=self.token(), include_inactive=include_inactive)
            return _envelope(out.RiskFlagSerializer(rows, many=True).data)

        return self.answer(build)


class MarketOverviewView(ApiView):
    serializer_class = out.MarketOverviewSerializer
    cache_responses = True

    @extend_schema(
        operation_id="market_overview",
        summary="Share of tokens bullish, total liquidity and its 24h change",
        parameters=[out.ChainQuerySerializer],
        responses={200: _one(out.MarketOverviewSerializer(), "MarketOverviewEnvelope"), **ERRORS},
    )
    def get(self, request: Request) -> Any:
        chain_id = _query(out.ChainQuerySerializer, request).get("chain_id") or settings.CHAIN_ID
        return self.answer(
            lambda: _envelope(out.MarketOverviewSerializer(selectors.market_overview(chain_id=chain_id)).data)
        )


# --- Watchlists (the signed-in user's own; another user's is a 404) ---------------------------


def _watchlist_body(watchlist: Any) -> dict[str, Any]:
    items = list(wallet_selectors.watchlist_items(watchlist=watchlist).select_related("token__rating"))
    return _envelope(out.WatchlistDetailSerializer(watchlist, context={"items": items}).data)


class WatchlistListView(ApiView):
    serializer_class = out.WatchlistSerializer

    @extend_schema(
        operation_id="watchlists_list",
        summary="Your watchlists",
        responses={200: _one(out.WatchlistSerializer(many=True), "WatchlistsEnvelope"), **ERRORS},
    )
    def get(self, request: Request) -> Any:
        rows = wallet_selectors.watchlists_of(user=request.user)
        return Response(_envelope(out.WatchlistSerializer(rows, many=True).data))

    @extend_schema(
        operation_id="watchlists_create",
        summary="Create a watchlist",
        request=out.WatchlistSerializer,
        responses={201: _one(out.WatchlistDetailSerializer(), "WatchlistEnvelope"), **ERRORS},
    )
    def post(self, request: Request) -> Any:
        form = out.WatchlistSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        watchlist = services.watchlist_create(user=request.user, name=form.validated_data["name"])
        return Response(_watchlist_body(watchlist), status=status.HTTP_201_CREATED)


class OwnWatchlistView(ApiView):
    serializer_class = out.WatchlistDetailSerializer

    def watchlist(self) -> Any:
        return wallet_selectors.watchlist_get_for_user(watchlist_id=self.kwargs["watchlist_id"], user=self.request.user)


class WatchlistView(OwnWatchlistView):
    @extend_schema(
        operation_id="watchlist_detail",
        summary="One of your watchlists with its tokens",
        responses={200: _one(out.WatchlistDetailSerializer(), "WatchlistEnvelope"), **ERRORS},
    )
    def get(self, request: Request, watchlist_id: int) -> Any:
        return Response(_watchlist_body(self.watchlist()))

    @extend_schema(
        operation_id="watchlist_rename",
        summary="Rename a watchlist",
        request=out.WatchlistSerializer,
        responses={200: _one(out.WatchlistDetailSerializer(), "WatchlistEnvelope"), **ERRORS},
    )
    def patch(self, request: Request, watchlist_id: int) -> Any:
        watchlist = self.watchlist()
        form = out.WatchlistSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return Response(
            _watchlist_body(services.watchlist_rename(watchlist=watchlist, name=form.validated_data["name"]))
        )

    @extend_schema(operation_id="watchlist_delete", summary="Delete a watchlist", responses={204: None, **ERRORS})
    def delete(self, request: Request, watchlist_id: int) -> Any:
        services.watchlist_delete(watchlist=self.watchlist())
        return Response(status=status.HTTP_204_NO_CONTENT)


class WatchlistItemsView(OwnWatchlistView):
    @extend_schema(
        operation_id="watchlist_item_add",
        summary="Add a token to a watchlist (adding twice keeps one)",
        request=out.TokenRefSerializer,
        responses={200: _one(out.WatchlistDetailSerializer(), "WatchlistEnvelope"), **ERRORS},
    )
    def post(self, request: Request, watchlist_id: int) -> Any:
        watchlist = self.watchlist()
        form = out.TokenRefSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token = selectors.token_get(**form.validated_data)
        services.watchlist_item_add(watchlist=watchlist, token=token)
        return Response(_watchlist_body(watchlist))


@extend_schema(parameters=TOKEN_PATH)
class WatchlistItemView(OwnWatchlistView):
    @extend_schema(operation_id="watchlist_item_remove", summary="Remove a token", responses={204: None, **ERRORS})
    def delete(self, request: Request, watchlist_id: int, chain_id: int, address: str) -> Any:
        watchlist = self.watchlist()
        token = selectors.token_get(chain_id=chain_id, address=address)
        services.watchlist_item_remove(watchlist=watchlist, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- API keys (managed from a signed-in session, never with a key) ----------------------------


class ApiKeyListView(ApiView):
    authentication_classes = [SessionAuthentication]
    serializer_class = out.ApiKeySerializer

    @extend_schema(
        operation_id="api_keys_list",
        summary="Your API keys (session only)",
        responses={200: _one(out.ApiKeySerializer(many=True), "ApiKeysEnvelope"), **ERRORS},
    )
    def get(self, request: Request) -> Any:
        rows = selectors.api_keys_of(user=request.user)
        return Response(_envelope(out.ApiKeySerializer(rows, many=True).data))

    @extend_schema(
        operation_id="api_keys_create",
        summary="Create an API key; the secret is in the answer once",
        request=out.ApiKeySerializer,
        responses={201: _one(out.ApiKeyCreatedSerializer(), "ApiKeyCreatedEnvelope"), **ERRORS},
    )
    def post(self, request: Request) -> Any:
        form = out.ApiKeySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        key, secret = services.api_key_create(user=request.user, name=form.validated_data["name"])
        data = {**out.ApiKeySerializer(key).data, "key": secret}
        return Response(_envelope(data), status=status.HTTP_201_CREATED)


class ApiKeyView(ApiView):
    authentication_classes = [SessionAuthentication]
    serializer_class = out.ApiKeySerializer

    @extend_schema(operation_id="api_keys_revoke", summary="Revoke one of your keys", responses={204: None, **ERRORS})
    def delete(self, request: Request, prefix: str) -> Any:
        services.api_key_revoke(key=selectors.api_key_get_for_user(prefix=prefix, user=request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)
