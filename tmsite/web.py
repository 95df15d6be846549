"""What only a web server process sets up, before its first request (``asgi.py``, ``wsgi.py``)."""

from __future__ import annotations

from django.conf import settings

from tmsite.tracing import tracing_setup


def web_process_setup() -> None:
    """Cap SQL statements on the web's connections, then start tracing.

    The cap (PostgreSQL ``statement_timeout``, ``DB_WEB_STATEMENT_TIMEOUT``) keeps one slow
    query from holding a request and a pooled connection; it is set on the connection options
    here rather than in settings because workers share the settings and run long jobs. It must
    run before the first connection: the pool reads the options when it opens.
    """
    database = settings.DATABASES["default"]
    timeout = settings.DB_WEB_STATEMENT_TIMEOUT
    if database["ENGINE"] == "django.db.backends.postgresql" and timeout > 0:
        database.setdefault("OPTIONS", {})["options"] = f"-c statement_timeout={int(timeout * 1000)}"
    tracing_setup()  # before the middleware loads: it adds its own
