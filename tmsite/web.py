"""What only a web server process sets up, before its first request (``asgi.py``, ``wsgi.py``)."""

from __future__ import annotations

import gc

from django.conf import settings
from django.urls import get_resolver

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


def web_heap_freeze() -> None:
    """Load the URLconf (every view module), then move every object alive so far out of the
    garbage collector's reach (``gc.freeze``).

    A full collection walks every tracked object: ~365,000 in a web process (Django, its apps
    and libraries), ~250 ms of CPU on a busy machine, during which the process's other threads
    wait; one came every few hundred ratings pages, and each stalled four requests for longer
    than the page's whole latency target. The modules, settings and URL patterns loaded here
    live as long as the process, so frozen they cost nothing; a full collection then walks
    only what requests created since (~20,000 objects).
    """
    get_resolver()._populate()  # imports the views, as the first request would
    gc.collect()
    gc.freeze()
