"""The versioned JSON API, mounted at ``/api/v1/``; each app adds its routes here.

The OpenAPI schema and its docs page live beside it at ``/api/schema/`` and ``/api/docs/``
(``tmsite/urls.py``).
"""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("swap/", include("swaps.api.urls")),
    path("", include("tmsite.api.urls")),
]
