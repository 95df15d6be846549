from django.urls import path

from wallets import views

app_name = "wallets"

urlpatterns = [
    path("watchlist/<int:token_id>/", views.watchlist_toggle, name="watchlist_toggle"),
    path("watchlists/<int:watchlist_id>/", views.watchlist_page, name="watchlist_page"),
    path("wallets/", views.wallets_page, name="wallets_page"),
    path("wallets/sign-in/", views.siwe_sign_in_page, name="siwe_page"),
    path("wallets/siwe/challenge", views.siwe_challenge, name="siwe_challenge"),
    path("wallets/siwe/verify", views.siwe_verify, name="siwe_verify"),
]
