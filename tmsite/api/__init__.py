"""The public data API (``/api/v1/``): tokens, grades, signals, candles, holders, whales,
anomalies, risk flags, market overview, watchlists and API keys.

Views are thin: selectors query, serializers describe. Every answer is ``{"data": ..., "meta":
{...}}`` (errors: ``tmsite.api_errors``), rendered with orjson; times are ISO-8601 UTC,
uint256 amounts are strings of digits, addresses are EIP-55 checksummed.
"""
