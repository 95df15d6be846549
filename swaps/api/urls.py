from django.urls import path

from swaps.api.views import SwapBuildView, SwapQuoteView

urlpatterns = [
    path("quote", SwapQuoteView.as_view(), name="swap-quote"),
    path("build", SwapBuildView.as_view(), name="swap-build"),
]
