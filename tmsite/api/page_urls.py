from django.urls import path

from tmsite.api import pages

app_name = "publicapi"

urlpatterns = [
    path("api-keys/", pages.api_keys_page, name="api_keys_page"),
    path("api-keys/<str:prefix>/revoke/", pages.api_key_revoke, name="api_key_revoke"),
]
