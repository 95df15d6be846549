from django.urls import path

from ratings import views

app_name = "ratings"

urlpatterns = [
    path("ratings/", views.ratings_page, name="ratings_page"),
    path("tokens/<int:chain_id>/<str:address>/", views.token_page, name="token_page"),
    path("tokens/<int:chain_id>/<str:address>/candles.json", views.token_candles_json, name="token_candles"),
]
