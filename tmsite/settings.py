"""tmsite settings: the one place configuration is read from the environment.

With nothing set the site runs embedded: SQLite under ``var/``, a local-memory cache and
Celery tasks executed eagerly in-process, so a newcomer needs no services. Setting
``DATABASE_URL``, ``REDIS_URL`` and ``WEB3_PROVIDER_URI`` switches to the real services.
Production (``DEBUG=0``) refuses to start without ``SECRET_KEY``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from tmsite.env import env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -------------------------------------------------------------------------------

# Embedded default is a developer machine; a deployment sets DEBUG=0 explicitly.
DEBUG = env_bool("DEBUG", True)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-used-when-debug-is-off"
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off tmsite refuses to start without one: "
            "set SECRET_KEY to a long random string (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))')."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_NAME = env_str("SITE_NAME", "tmsite")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "allauth",
    "allauth.account",
    "wallets",
    "chain",
    "market",
    "ratings",
    "moonshots",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "swaps",
    "corsheaders",
    "django_filters",
    "rest_framework_api_key",
    "tmsite.api",
    "monitoring",
]

MIDDLEWARE = [
    "monitoring.middleware.RequestMetricsMiddleware",  # outermost: times everything, answers /metrics
    "tmsite.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "tmsite.middleware.CSPMiddleware",  # django-csp's, the site-wide header built once
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

# The middleware of API calls the edge (tmsite/api/edge.py) checked and passed on: an API key,
# no cookie, no Origin. They need no sessions, CSRF, messages, static files or the site's
# sign-in, and keep every header the full stack gives an API answer (tests/api/test_edge.py).
API_MIDDLEWARE = [
    "monitoring.middleware.RequestMetricsMiddleware",
    "tmsite.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "tmsite.middleware.CSPMiddleware",
    "corsheaders.middleware.CorsMiddleware",  # no Origin here, but its "Vary: origin" all the same
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tmsite.urls"
WSGI_APPLICATION = "tmsite.wsgi.application"
ASGI_APPLICATION = "tmsite.asgi.application"
AUTH_USER_MODEL = "wallets.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ADMIN_URL = env_str("ADMIN_URL", "admin/")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tmsite.context_processors.site",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Database ---------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
# Seconds per SQL statement in web processes (applied by tmsite/web.py); 0: off. Workers are uncapped.
DB_WEB_STATEMENT_TIMEOUT = env_float("DB_WEB_STATEMENT_TIMEOUT", 30.0, minimum=0.0)
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
    if _db["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"DATABASE_URL must be a postgres:// URL; got engine {_db['ENGINE']}")
    # Django's psycopg 3 pool; CONN_MAX_AGE must stay 0 when the pool is on.
    _db["OPTIONS"] = {
        "pool": {
            "min_size": env_int("DB_POOL_MIN", 1, minimum=0),  # connections kept open per process
            "max_size": env_int("DB_POOL_MAX", 10, minimum=1),  # connections per process, at most
            "timeout": env_float("DB_POOL_TIMEOUT", 10.0, minimum=0.1),  # seconds to wait for one
        },
        # Parameters bound by the server, so a query run again on a connection is prepared once
        # (psycopg's prepare_threshold) instead of parsed and planned on every call; planning the
        # token list's join took longer than running it (bench/README.md, Public API).
        "server_side_binding": env_bool("DB_SERVER_SIDE_BINDING", True),
    }
    DATABASES = {"default": _db}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "tmsite.sqlite3",
            "OPTIONS": {
                # WAL lets the dev server read while a worker or the indexer writes.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,  # seconds to wait on a locked database
            },
        }
    }

# --- Cache and Celery -------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
REDIS_TIMEOUT = env_float("REDIS_TIMEOUT", 2.0, minimum=0.05)  # seconds, connect and read
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's, counting hits and misses, serving misses while Redis is unreachable
            "BACKEND": "tmsite.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tmsite",
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT,
                "socket_timeout": REDIS_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "monitoring.cache.LocMemCache", "LOCATION": "tmsite"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
# Without a broker tasks run in-process as they are enqueued, so the embedded site works.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)  # seconds
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)  # seconds, hard kill
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,  # seconds; longer than any task's hard limit
    "socket_connect_timeout": REDIS_TIMEOUT,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Queues by workload, so each is consumed by its own workers (`make worker QUEUES=indexing`)
# and scales on its own machines; a task not routed here goes to "default".
CELERY_WORKLOAD_QUEUES = ("indexing", "grading", "swap", "default")
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "market.tasks.*": {"queue": "indexing"},
    "ratings.tasks.*": {"queue": "grading"},
    "moonshots.tasks.*": {"queue": "grading"},
    "swaps.tasks.*": {"queue": "swap"},
}

# --- Chain ------------------------------------------------------------------------------

CHAIN_ID = env_int("CHAIN_ID", 31337, minimum=1)  # the chain the beat schedule indexes (31337: local anvil)
WEB3_PROVIDER_URI = env_str("WEB3_PROVIDER_URI", "http://127.0.0.1:8545")
WEB3_REQUEST_TIMEOUT = env_float("WEB3_REQUEST_TIMEOUT", 10.0, minimum=0.1)  # seconds per RPC call
READYZ_TIMEOUT = env_float("READYZ_TIMEOUT", 2.0, minimum=0.05)  # seconds per dependency probe
RPC_RETRIES = env_int("RPC_RETRIES", 3, minimum=0)  # extra attempts after a network error
RPC_BACKOFF = env_float("RPC_BACKOFF", 0.5, minimum=0.0)  # seconds before the first retry, doubling
# A provider's documented limits, so the indexer never meets them; 0: unknown, learned from the
# node's refusals in each run (a refused request is split, and what the node took caps later ones).
RPC_MAX_LOG_BLOCKS = env_int("RPC_MAX_LOG_BLOCKS", 0, minimum=0)  # blocks per eth_getLogs request
RPC_MAX_BATCH = env_int("RPC_MAX_BATCH", 0, minimum=0)  # requests per JSON-RPC batch

# --- Indexer ----------------------------------------------------------------------------

INDEX_START_BLOCK = env_int("INDEX_START_BLOCK", 0, minimum=0)  # first block read on a new chain
INDEX_CONFIRMATIONS = env_int("INDEX_CONFIRMATIONS", 0, minimum=0)  # blocks kept back from head
INDEX_REORG_DEPTH = env_int("INDEX_REORG_DEPTH", 64, minimum=1)  # recent blocks whose hashes are checked
INDEX_SPAN_INITIAL = env_int("INDEX_SPAN_INITIAL", 500, minimum=1)  # blocks per batch at start
INDEX_SPAN_MIN = env_int("INDEX_SPAN_MIN", 1, minimum=1)  # blocks; never split below this
INDEX_SPAN_MAX = env_int("INDEX_SPAN_MAX", 5000, minimum=1)  # blocks; never grow above this
INDEX_BATCH_TARGET_LOGS = env_int("INDEX_BATCH_TARGET_LOGS", 50_000, minimum=1)  # logs; stop growing past this
INDEX_BATCH_FAST_SECONDS = env_float("INDEX_BATCH_FAST_SECONDS", 2.0)  # a batch quicker than this grows the span
INDEX_BATCH_SLOW_SECONDS = env_float("INDEX_BATCH_SLOW_SECONDS", 15.0)  # a batch slower than this halves it
INDEX_PARALLEL_REQUESTS = env_int("INDEX_PARALLEL_REQUESTS", 3, minimum=1)  # eth_getLogs requests in flight
INDEX_BATCH_PAUSE = env_float("INDEX_BATCH_PAUSE", 0.0, minimum=0.0)  # seconds between batches, for rate-limited nodes
INDEX_INTERVAL = env_float("INDEX_INTERVAL", 5.0, minimum=0.5)  # seconds between scheduled index runs
INDEX_LOCK_TTL = env_int("INDEX_LOCK_TTL", 600, minimum=10)  # seconds a dead indexer's lock survives
# seconds the scheduled index task's lock lasts past its last batch (renewed per batch): how long a
# killed worker holds up indexing; longer than the slowest batch (RPC timeouts and retries included)
INDEX_LEASE_TTL = env_int("INDEX_LEASE_TTL", 90, minimum=10)
WHALE_MIN_SUPPLY_SHARE = env_float("WHALE_MIN_SUPPLY_SHARE", 0.005, minimum=0.0)  # fraction of supply
WHALE_MIN_USD = env_float("WHALE_MIN_USD", 25_000.0, minimum=0.0)  # USD at the time of the transfer
# Mainnet sources (local chains use the deployment registry): name@factory@router@fee_bps, comma-separated.
DEX_FACTORIES = [
    (name, factory, router, int(fee))
    for name, factory, router, fee in (item.split("@") for item in env_list("DEX_FACTORIES", []))
]
QUOTE_USD_TOKENS = env_list("QUOTE_USD_TOKENS", [])  # checksummed addresses valued at $1
QUOTE_NATIVE_TOKENS = env_list("QUOTE_NATIVE_TOKENS", [])  # wrapped native coin (WETH) addresses

# --- API --------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tmsite.api_errors.api_exception_handler",
    # Throttle counters live in the default cache (Redis when REDIS_URL is set).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "600/min"),  # requests per client IP
        "user": env_str("API_THROTTLE_USER", "1200/min"),  # requests per signed-in user
        "swap_quote": env_str("API_THROTTLE_SWAP_QUOTE", "240/min"),  # quote refreshes per client
        "swap_build": env_str("API_THROTTLE_SWAP_BUILD", "60/min"),  # built transactions per client
    },
    "NUM_PROXIES": env_int("API_NUM_PROXIES", 0, minimum=0),  # trusted proxies in X-Forwarded-For
}
SPECTACULAR_SETTINGS = {
    "TITLE": "tmsite API",
    "DESCRIPTION": "On-chain analytics and swaps. Amounts are strings in token base units.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Swagger UI assets are served from this site (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
# Public data API (tmsite/api): API keys by plan, per-key throttling, cached responses.
API_PLAN_RATES = {
    "free": env_str("API_RATE_FREE", "60/min"),  # requests per API key on the free plan
    "pro": env_str("API_RATE_PRO", "600/min"),  # requests per API key on the pro plan
    "session": env_str("API_RATE_SESSION", "300/min"),  # requests per signed-in site user (session)
    "anon": env_str("API_RATE_ANON", "30/min"),  # requests per client IP without credentials
}
API_KEY_HEADER = "HTTP_X_API_KEY"  # X-API-Key, besides "Authorization: Api-Key <key>"
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50, minimum=1)  # rows per cursor page by default
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 200, minimum=1)  # rows per cursor page, at most
API_CACHE_TTL = env_int("API_CACHE_TTL", 60, minimum=0)  # seconds a hot response stays cached (0: off)
# Cached answers to API keys served in front of Django at the WSGI layer (tmsite/api/edge.py;
# only with Redis), and how many answers each web process keeps in memory for it.
API_EDGE = env_bool("API_EDGE", True)
API_EDGE_ENTRIES = env_int("API_EDGE_ENTRIES", 256, minimum=1)
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])  # origins allowed to call /api/ from browsers
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "if-none-match", "if-modified-since", "x-api-key"]
CORS_EXPOSE_HEADERS = [
    "etag",
    "last-modified",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
]

# --- Swaps ------------------------------------------------------------------------------

SWAP_QUOTE_TTL = env_int("SWAP_QUOTE_TTL", 30, minimum=1)  # seconds a quote can be built from
SWAP_DEADLINE_SECONDS = env_int("SWAP_DEADLINE_SECONDS", 600, minimum=30)  # seconds after the latest block
SWAP_DEFAULT_SLIPPAGE_BPS = env_int("SWAP_DEFAULT_SLIPPAGE_BPS", 50, minimum=1)  # basis points (0.5%)
SWAP_SLIPPAGE_MIN_BPS = env_int("SWAP_SLIPPAGE_MIN_BPS", 1, minimum=1)  # basis points (0.01%)
SWAP_SLIPPAGE_MAX_BPS = env_int("SWAP_SLIPPAGE_MAX_BPS", 500, minimum=1)  # basis points (5%)
SWAP_IMPACT_WARN_BPS = env_int("SWAP_IMPACT_WARN_BPS", 300, minimum=0)  # basis points; warn above 3%
SWAP_IMPACT_CONFIRM_BPS = env_int("SWAP_IMPACT_CONFIRM_BPS", 1000, minimum=0)  # basis points; confirm above 10%
SWAP_MAX_PRICE_IMPACT_BPS = env_int("SWAP_MAX_PRICE_IMPACT_BPS", 5000, minimum=0)  # basis points; refused above
SWAP_TOKEN_CHECK_TTL = env_int("SWAP_TOKEN_CHECK_TTL", 300, minimum=0)  # seconds a honeypot/tax check is reused
SWAP_GAS_BUFFER_PCT = env_int("SWAP_GAS_BUFFER_PCT", 25, minimum=0)  # percent added to eth_estimateGas
# External aggregators the widget may use besides the local router: "0x" (Swap API v2).
SWAP_PROVIDERS = env_list("SWAP_PROVIDERS", ["local"])
ZEROEX_API_URL = env_str("ZEROEX_API_URL", "https://api.0x.org")
ZEROEX_API_KEY = env_str("ZEROEX_API_KEY")
ZEROEX_TIMEOUT = env_float("ZEROEX_TIMEOUT", 5.0, minimum=0.1)  # seconds per request

# --- Ratings ----------------------------------------------------------------------------

RATINGS_INTERVAL = env_float("RATINGS_INTERVAL", 900.0, minimum=10.0)  # seconds between scheduled grade runs
RATINGS_TRAIN_INTERVAL = env_float("RATINGS_TRAIN_INTERVAL", 86_400.0, minimum=60.0)  # seconds between model trainings
RATINGS_BACKFILL_DAYS = env_int("RATINGS_BACKFILL_DAYS", 30, minimum=1)  # days of grade history a first run computes
RATINGS_MODEL_MIN_HISTORY_DAYS = env_int("RATINGS_MODEL_MIN_HISTORY_DAYS", 21, minimum=2)  # days before a model trains
RATINGS_MODELS_DIR = VAR_DIR / "models"  # trained grade model artifacts (joblib), pinned by sha256
RATINGS_SIGNAL_BULL_ENTER = env_float("RATINGS_SIGNAL_BULL_ENTER", 65.0)  # Trader Grade (0-100) to turn bullish
RATINGS_SIGNAL_BULL_EXIT = env_float("RATINGS_SIGNAL_BULL_EXIT", 55.0)  # Trader Grade below which bullish ends
RATINGS_SIGNAL_BEAR_ENTER = env_float("RATINGS_SIGNAL_BEAR_ENTER", 35.0)  # Trader Grade to turn bearish
RATINGS_SIGNAL_BEAR_EXIT = env_float("RATINGS_SIGNAL_BEAR_EXIT", 45.0)  # Trader Grade above which bearish ends
RATINGS_ANOMALY_Z = env_float("RATINGS_ANOMALY_Z", 6.0, minimum=1.0)  # robust z-score (MAD units) of an anomaly
RATINGS_ANOMALY_MIN_VOLUME_USD = env_float("RATINGS_ANOMALY_MIN_VOLUME_USD", 100.0, minimum=0.0)  # USD per hour
RATINGS_THIN_LIQUIDITY_USD = env_float("RATINGS_THIN_LIQUIDITY_USD", 10_000.0, minimum=0.0)  # USD, both pool sides
# fraction of the 7-day TVL peak gone for "liquidity pulled"
RATINGS_LIQUIDITY_PULLED_SHARE = env_float("RATINGS_LIQUIDITY_PULLED_SHARE", 0.7, minimum=0.0)
RATINGS_LIQUIDITY_PULLED_MIN_PEAK_USD = env_float("RATINGS_LIQUIDITY_PULLED_MIN_PEAK_USD", 2_000.0, minimum=0.0)  # USD
RATINGS_TOP10_SHARE_MAX = env_float("RATINGS_TOP10_SHARE_MAX", 0.9, minimum=0.0)  # fraction of supply, pools excluded
# grade ceiling under a high-severity risk flag
RATINGS_RISK_GRADE_CAP = env_float("RATINGS_RISK_GRADE_CAP", 10.0, minimum=0.0)
# grade ceiling (0-100) for a token not traded over the grade's window (24h trader, 7d investor)
# or with pool liquidity under RATINGS_THIN_LIQUIDITY_USD
RATINGS_UNTRADABLE_GRADE_CAP = env_float("RATINGS_UNTRADABLE_GRADE_CAP", 25.0, minimum=0.0)

# --- Static files -----------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Served from the npm install (package-lock.json pins it), never copied into the repo.
    ("vendor/lightweight-charts", BASE_DIR / "node_modules" / "lightweight-charts" / "dist"),
]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production) --------------------------------------------------------------

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)  # seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Health probes come from load balancers over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Content Security Policy (django-csp): scripts and style sheets only from this site, never
# inline scripts or eval (templates keep JS in static files; htmx is configured in base.html
# not to inject styles or eval). The API docs views widen style-src for their third-party UIs (tmsite/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # plus the one <style> lightweight-charts 5.2.1 adds for its attribution logo, by hash
        # (a new chart version with another one fails the browser tests, which report violations)
        "style-src": ["'self'", "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Metrics (Prometheus) ---------------------------------------------------------------

# Set for servers with several worker processes (`make serve`, `make worker`): each process
# writes its metrics there and /metrics merges them. Empty: this process's metrics only.
# The directory must be emptied before the server starts (the Makefile targets do).
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
METRICS_PATH = "metrics"
METRICS_TOKEN = env_str("METRICS_TOKEN")  # "Authorization: Bearer <token>" opens /metrics; empty: no token
# Peer addresses or CIDR networks /metrics answers without the token (REMOTE_ADDR, never X-Forwarded-For).
METRICS_ALLOWED_IPS = [
    str(ipaddress.ip_network(net, strict=False))  # rejects a malformed entry at start
    for net in env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"] if DEBUG else [])
]
METRICS_WORKER_PORT = env_int("METRICS_WORKER_PORT", 0, minimum=0)  # a Celery worker serves /metrics here; 0: off
METRICS_WORKER_ADDR = env_str("METRICS_WORKER_ADDR", "127.0.0.1")  # address that worker endpoint binds

# --- Logging ----------------------------------------------------------------------------

LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [trace=%(trace_id)s span=%(span_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(trace_id)s %(span_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    # Every line names the OpenTelemetry trace and span it was written in (tmsite/tracing.py).
    "filters": {"trace_context": {"()": "tmsite.tracing.TraceContextFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["trace_context"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request log middleware writes one line per request; runserver's own is noise.
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}

# --- Tracing (OpenTelemetry, tmsite/tracing.py) ----------------------------------------

TRACING = env_bool("TRACING", True)  # record spans in web and worker processes (ids in every log line)
OTEL_TRACES_EXPORTER = env_choice("OTEL_TRACES_EXPORTER", "none", ("none", "console", "otlp"))  # where spans go
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = env_str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces")
OTEL_SERVICE_NAME = env_str("OTEL_SERVICE_NAME", "tmsite")
# Share of traces recorded (the root decides, children follow). With no exporter nothing would
# read a recorded span, so none is recorded; trace and span ids still reach every log line.
OTEL_TRACES_SAMPLE_RATIO = env_float(
    "OTEL_TRACES_SAMPLE_RATIO", 0.0 if OTEL_TRACES_EXPORTER == "none" else 1.0, minimum=0.0, maximum=1.0
)

# --- Accounts (django-allauth: e-mail and password; Sign-In With Ethereum in wallets/) ----

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_choice("ACCOUNT_EMAIL_VERIFICATION", "mandatory", ("mandatory", "optional", "none"))
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_ADAPTER = "wallets.adapter.AccountAdapter"  # account e-mail sent by a worker
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "ratings:ratings_page"
ACCOUNT_LOGOUT_REDIRECT_URL = "ratings:ratings_page"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "tmsite <noreply@localhost>")
# Development prints mail (the verification link) to the console; production sets EMAIL_BACKEND.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0, minimum=0.1)  # seconds per SMTP operation
# Sign-in throttles (django-allauth's cache-backed rate limits, also applied to the SIWE views):
# "N/<period>/<ip|key>", e.g. 5 failed logins per e-mail address per 5 minutes.
ACCOUNT_RATE_LIMITS = {
    "login": env_str("LOGIN_RATE_IP", "30/m/ip"),  # login attempts per client IP
    "login_failed": env_str("LOGIN_FAILED_RATE", "10/m/ip,5/300s/key"),  # failed logins per IP and per address
    "signup": env_str("SIGNUP_RATE_IP", "20/m/ip"),  # sign-ups per client IP
    "siwe": env_str("SIWE_RATE", "20/m/ip"),  # SIWE challenges and verifications per client IP
}
# Sign-In With Ethereum (EIP-4361): chains whose signatures are accepted, and how long a nonce lives.
SIWE_CHAIN_IDS = [int(c) for c in env_list("SIWE_CHAIN_IDS", [str(CHAIN_ID)])]
SIWE_NONCE_TTL = env_int("SIWE_NONCE_TTL", 300, minimum=10)  # seconds a sign-in message stays valid

# --- Moonshots ---------------------------------------------------------------------------

MOONSHOT_INTERVAL = env_float("MOONSHOT_INTERVAL", 900.0, minimum=10.0)  # seconds between scheduled scans
MOONSHOT_MAX_MARKET_CAP_USD = env_float("MOONSHOT_MAX_MARKET_CAP_USD", 50_000_000.0, minimum=0.0)  # USD, fully diluted
MOONSHOT_MIN_LIQUIDITY_USD = env_float("MOONSHOT_MIN_LIQUIDITY_USD", 20_000.0, minimum=0.0)  # USD, both pool sides
MOONSHOT_MIN_SCORE = env_float("MOONSHOT_MIN_SCORE", 40.0, minimum=0.0)  # moonshot score (0-100) to pick
MOONSHOT_MAX_PICKS_PER_SCAN = env_int("MOONSHOT_MAX_PICKS_PER_SCAN", 5, minimum=1)  # new picks per scan, at most
# Risk flag codes under which a token is never picked (and an open pick exits).
MOONSHOT_BLOCKING_RISK_FLAGS = env_list("MOONSHOT_BLOCKING_RISK_FLAGS", ["honeypot", "liquidity_pulled"])
MOONSHOT_EXIT_GRADE_BELOW = env_float("MOONSHOT_EXIT_GRADE_BELOW", 40.0, minimum=0.0)  # Trader Grade (0-100)
MOONSHOT_STOP_LOSS_PCT = env_float("MOONSHOT_STOP_LOSS_PCT", 25.0, minimum=0.0)  # percent below entry
MOONSHOT_TAKE_PROFIT_PCT = env_float("MOONSHOT_TAKE_PROFIT_PCT", 100.0, minimum=0.0)  # percent above entry
MOONSHOT_MAX_HOLDING_HOURS = env_float("MOONSHOT_MAX_HOLDING_HOURS", 168.0, minimum=1.0)  # hours after entry

# --- Site pages -------------------------------------------------------------------------

RATINGS_PAGE_SIZE = env_int("RATINGS_PAGE_SIZE", 50, minimum=1)  # rows per ratings table page
# seconds a rendered ratings table or token page part stays cached (0: off); new grades or a
# new market block change the key before then (ratings/page_parts.py)
PAGE_CACHE_TTL = env_int("PAGE_CACHE_TTL", 300, minimum=0)
LIVE_PRICE_POLL_SECONDS = env_int("LIVE_PRICE_POLL_SECONDS", 10, minimum=1)  # token price/whale feed refresh
LIVE_CANDLE_POLL_SECONDS = env_int("LIVE_CANDLE_POLL_SECONDS", 15, minimum=1)  # chart refresh

# --- Demo -------------------------------------------------------------------------------

DEMO_USERNAME = env_str("DEMO_USERNAME", "demo")
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "demo-pass-8000")
DEMO_REGRADE_INTERVAL = env_float("DEMO_REGRADE_INTERVAL", 60.0, minimum=5.0)  # seconds between demo re-gradings
