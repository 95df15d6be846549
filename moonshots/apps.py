from django.apps import AppConfig


class MoonshotsConfig(AppConfig):
    name = "moonshots"
    verbose_name = "Moonshots"
