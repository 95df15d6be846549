from django.apps import AppConfig


class MarketConfig(AppConfig):
    """Indexed on-chain market data: tokens, pools, events and what is derived from them."""

    name = "market"
    verbose_name = "On-chain market data"
