from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Prometheus metrics, the staff system page and the record of failed tasks."""

    name = "monitoring"
    verbose_name = "Operations"

    def ready(self) -> None:
        from monitoring import signals

        signals.connect()
