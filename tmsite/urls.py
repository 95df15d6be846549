from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from tmsite import views

# The API docs are third-party UIs that style themselves inline; scripts stay same-origin only
# (the split Swagger view serves its init script as a file, ReDoc starts from a tag).
_docs_csp = csp_update({"style-src": ["'unsafe-inline'"]})

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("api/v1/", include("tmsite.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", _docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/docs/redoc/", _docs_csp(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    path("account/", include("tmsite.api.page_urls")),
    path("swap/", include("swaps.urls")),
    path("", include("monitoring.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("ratings.urls")),
    path("", include("wallets.urls")),
]
