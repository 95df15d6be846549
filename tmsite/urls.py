from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from tmsite import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("ratings.urls")),
    path("", include("wallets.urls")),
]
