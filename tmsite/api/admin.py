from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from tmsite.api.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "owner", "plan", "last_used_at")  # type: ignore[assignment]
    list_filter = (*APIKeyModelAdmin.list_filter, "plan")  # type: ignore[assignment]
    raw_id_fields = ["owner"]
    search_fields = (*APIKeyModelAdmin.search_fields, "owner__username")  # type: ignore[assignment]


# The library's own key model is unused here: keys belong to users (``ApiKey``).
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)
