"""OpenTelemetry tracing: one trace from a web request through its SQL, cache and RPC calls
into the Celery tasks it enqueues.

``tracing_setup()`` runs once per process from the entry points (``tmsite/asgi.py``,
``tmsite/wsgi.py``, the Celery worker in ``tmsite/celery.py``); management commands and
benchmarks stay uninstrumented. Spans are recorded whatever the exporter, so every log line
can name its trace and span (``TraceContextFilter``); ``OTEL_TRACES_EXPORTER`` decides
where finished spans go: nowhere (``none``, the default), stdout (``console``) or an OTLP/HTTP
collector (``otlp``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), and ``OTEL_TRACES_SAMPLE_RATIO``
which share of traces is recorded (all with an exporter, none without one). An unrecorded
span still has its ids, so log lines name their trace either way; what it skips is the
span's attributes, events and export: with no exporter, recording every SQL statement's span
(its attributes, the statement text) was ~0.2-0.3 ms of CPU per query that nothing read.

Context crosses the broker in the task message headers (W3C ``traceparent``), written by the
Celery instrumentation when a task is published and read when a worker runs it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_provider: TracerProvider | None = None


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex; empty outside a span) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = trace.format_trace_id(context.trace_id)
            record.span_id = trace.format_span_id(context.span_id)
        else:
            record.trace_id = record.span_id = ""
        return True


def _instrumentors(*, leaf_spans: bool = True) -> list[object]:
    """The libraries to instrument. ``leaf_spans=False`` leaves out SQL and cache calls: their
    spans have no children and no log line is written inside them, so when no span is
    recorded they would only cost time (~0.1 ms of CPU per statement, a tenth of an uncached
    API token detail). Django (the request span the log lines name), Celery (the trace carried
    into tasks) and requests (into outgoing calls) are instrumented either way."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    # requests is the HTTP client under web3's HTTPProvider and the project's RpcClient.
    leaves = [PsycopgInstrumentor(), RedisInstrumentor()] if leaf_spans else []
    return [DjangoInstrumentor(), *leaves, CeleryInstrumentor(), RequestsInstrumentor()]


METRICS_MIDDLEWARE = "monitoring.middleware.RequestMetricsMiddleware"


def instrument(provider: TracerProvider, *, leaf_spans: bool = True) -> None:
    """Patch Django, psycopg, Redis, Celery and requests to record spans on ``provider``
    (psycopg and Redis only with ``leaf_spans``)."""
    for instrumentor in _instrumentors(leaf_spans=leaf_spans):
        instrumentor.instrument(tracer_provider=provider)  # type: ignore[attr-defined]
    _metrics_middleware_first()


def _metrics_middleware_first() -> None:
    """Keep the metrics middleware outermost. The Django instrumentation puts its own first,
    and that one reads the Host header, which a Prometheus scrape sets to the process's IP:
    ``/metrics`` then answered 400 (a disallowed host) whenever tracing was on. Scrapes are
    not traced either way."""
    from django.conf import settings

    middleware = list(settings.MIDDLEWARE)
    if METRICS_MIDDLEWARE in middleware and middleware[0] != METRICS_MIDDLEWARE:
        middleware.remove(METRICS_MIDDLEWARE)
        settings.MIDDLEWARE = [METRICS_MIDDLEWARE, *middleware]


def uninstrument() -> None:
    for instrumentor in _instrumentors():
        instrumentor.uninstrument()  # type: ignore[attr-defined]


def build_provider(
    *, exporter: str, service_name: str, otlp_endpoint: str, sample_ratio: float = 1.0
) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        # a remote parent's decision (a traced caller's traceparent) is followed either way
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    return provider


def tracing_setup() -> TracerProvider | None:
    """Install the provider from settings and instrument the libraries; idempotent per process."""
    global _provider
    from django.conf import settings

    if _provider is not None or not settings.TRACING:
        return _provider
    _provider = build_provider(
        exporter=settings.OTEL_TRACES_EXPORTER,
        service_name=settings.OTEL_SERVICE_NAME,
        otlp_endpoint=settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
        sample_ratio=settings.OTEL_TRACES_SAMPLE_RATIO,
    )
    trace.set_tracer_provider(_provider)
    instrument(_provider, leaf_spans=settings.OTEL_TRACES_SAMPLE_RATIO > 0)
    return _provider
