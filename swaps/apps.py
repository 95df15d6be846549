from django.apps import AppConfig


class SwapsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "swaps"
    verbose_name = "Swaps"
