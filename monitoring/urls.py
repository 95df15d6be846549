"""The staff system page; its JSON is routed under ``/api/v1/`` (``tmsite/api_urls.py``)."""

from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("system/", views.system_page, name="system-page"),
    path("api/v1/system", views.SystemApiView.as_view(), name="system-api"),
]
