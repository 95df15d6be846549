# syntax=docker/dockerfile:1
# Build stage: wheels for every pinned dependency, so the runtime image needs no compiler.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

# Runtime stage: the app, its wheels, and an unprivileged user.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DEBUG=0 VAR_DIR=/app/var LOG_FORMAT=json
# LightGBM's wheel links the system OpenMP runtime (the grade models).
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 tmsite
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
COPY --chown=tmsite:tmsite . .
RUN mkdir -p /app/var && chown tmsite:tmsite /app/var \
    && SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput --verbosity 0
USER tmsite
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# Several server processes share one Prometheus metrics directory, emptied as the server starts.
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/tmsite-metrics
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec granian --interface wsgi --host 0.0.0.0 --port 8000 --workers 2 --blocking-threads 4 tmsite.wsgi:application"]
