"""Routes of the public data API, included at ``/api/v1/`` by ``tmsite.api_urls``."""

from django.urls import path

from market.models import Interval
from tmsite.api import views

TOKEN = "tokens/<int:chain_id>/<str:address>/"

urlpatterns = [
    path("tokens/", views.TokenListView.as_view(), name="tokens"),
    path(TOKEN, views.TokenDetailView.as_view(), name="token"),
    path(f"{TOKEN}grades/", views.GradesView.as_view(), name="token-grades"),
    path(f"{TOKEN}grades/history/", views.GradeHistoryView.as_view(), name="token-grade-history"),
    path(f"{TOKEN}signals/", views.SignalsView.as_view(), name="token-signals"),
    path(
        f"{TOKEN}ohlcv/hourly/",
        views.CandlesView.as_view(interval=Interval.HOUR),
        name="token-ohlcv-hourly",
    ),
    path(f"{TOKEN}ohlcv/daily/", views.CandlesView.as_view(interval=Interval.DAY), name="token-ohlcv-daily"),
    path(f"{TOKEN}data-points/", views.DataPointsView.as_view(), name="token-data-points"),
    path(f"{TOKEN}holders/", views.HoldersView.as_view(), name="token-holders"),
    path(f"{TOKEN}whale-transfers/", views.WhaleTransfersView.as_view(), name="token-whale-transfers"),
    path(f"{TOKEN}anomalies/", views.AnomaliesView.as_view(), name="token-anomalies"),
    path(f"{TOKEN}risk-flags/", views.RiskFlagsView.as_view(), name="token-risk-flags"),
    path("market/overview/", views.MarketOverviewView.as_view(), name="market-overview"),
    path("watchlists/", views.WatchlistListView.as_view(), name="watchlists"),
    path("watchlists/<int:watchlist_id>/", views.WatchlistView.as_view(), name="watchlist"),
    path("watchlists/<int:watchlist_id>/items/", views.WatchlistItemsView.as_view(), name="watchlist-items"),
    path(
        "watchlists/<int:watchlist_id>/items/<int:chain_id>/<str:address>/",
        views.WatchlistItemView.as_view(),
        name="watchlist-item",
    ),
    path("keys/", views.ApiKeyListView.as_view(), name="api-keys"),
    path("keys/<str:prefix>/", views.ApiKeyView.as_view(), name="api-key"),
]
