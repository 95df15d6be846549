from django.apps import AppConfig


class PublicApiConfig(AppConfig):
    name = "tmsite.api"
    label = "publicapi"
    verbose_name = "Public API"
