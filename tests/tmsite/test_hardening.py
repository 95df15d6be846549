"""Hardening a visitor or an attacker would notice: security headers, a CSP that the pages
live with, throttled sign-in attempts, a configurable admin path and a statement timeout on
web database connections."""

from __future__ import annotations

import json
import re
import time

import pytest
from allauth.account.models import EmailAddress
from django.test import override_settings
from eth_account import Account
from eth_account.messages import encode_defunct

from tests.tmsite.test_settings import PROD_ENV, run_python
from wallets.views import SIWE_THROTTLED

pytestmark = pytest.mark.django_db

PAGES = ["/", "/ratings/", "/accounts/login/", "/accounts/signup/", "/wallets/sign-in/", "/swap/"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\s(on[a-z]+|hx-on[:-][a-z:-]+)\s*=", re.I)


def _policy(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_a_strict_csp_and_have_no_inline_script(client, path: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["style-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    body = response.content.decode()
    assert not INLINE_SCRIPT.search(body), INLINE_SCRIPT.search(body)
    assert not INLINE_HANDLER.search(body), INLINE_HANDLER.search(body)


def test_api_docs_load_their_scripts_from_files(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/docs/", "/api/docs/redoc/"):
        response = client.get(path)
        assert response.status_code == 200
        assert _policy(response)["script-src"] == ["'self'"]
        assert not INLINE_SCRIPT.search(response.content.decode()), path


def test_production_sends_hsts_and_secure_cookies() -> None:
    code = (
        "import django, json; django.setup(); from django.conf import settings; from django.test import Client; "
        # collectstatic's manifest is a deployment step; plain storage renders the page without it
        "settings.STORAGES['staticfiles'] = {'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'}; "
        "r = Client().get('/accounts/login/', secure=True, HTTP_HOST='tmsite.example'); "
        "print(json.dumps({'hsts': r.get('Strict-Transport-Security'), "
        "'cookies': {k: bool(c['secure']) and bool(c['samesite']) for k, c in r.cookies.items()}}))"
    )
    result = run_python(code, PROD_ENV)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["cookies"] and all(seen["cookies"].values()), seen


def test_admin_path_comes_from_the_environment() -> None:
    code = "import django; django.setup(); from django.urls import reverse; print(reverse('admin:index'))"
    result = run_python(code, {"ADMIN_URL": "ops-7f3k/"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/ops-7f3k/"


@override_settings(
    ACCOUNT_RATE_LIMITS={"login_failed": "3/3s/key"},
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # attempts well inside the window
)
def test_failed_logins_are_throttled_then_recover(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(username="erin", email="erin@example.com", password="right-pass-4821")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    assert client.get("/accounts/login/").status_code == 200
    for _ in range(3):
        wrong = client.post("/accounts/login/", {"login": "erin@example.com", "password": "wrong-pass-0000"})
        assert wrong.status_code == 200 and b"Too many failed" not in wrong.content
    refused = client.post("/accounts/login/", {"login": "erin@example.com", "password": "right-pass-4821"})
    assert refused.status_code in (200, 429) and b"Too many failed login attempts" in refused.content
    assert "_auth_user_id" not in client.session
    time.sleep(3.1)
    signed_in = client.post("/accounts/login/", {"login": "erin@example.com", "password": "right-pass-4821"})
    assert signed_in.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)


@override_settings(ACCOUNT_RATE_LIMITS={"siwe": "4/3s/ip"})
def test_wallet_sign_in_attempts_are_throttled_then_recover(client) -> None:  # type: ignore[no-untyped-def]
    account = Account.create()

    def challenge():  # type: ignore[no-untyped-def]
        body = json.dumps({"address": account.address, "chain_id": 31337})
        return client.post("/wallets/siwe/challenge", body, "application/json")

    for _ in range(3):
        assert challenge().status_code == 200
    message = challenge().json()["message"]
    signature = Account.sign_message(encode_defunct(text=message), private_key=account.key).signature.hex()
    verify_body = json.dumps({"message": message, "signature": "0x" + signature.removeprefix("0x")})
    refused = client.post("/wallets/siwe/verify", verify_body, "application/json")
    assert refused.status_code == 429 and refused.json()["error"] == SIWE_THROTTLED
    assert refused["Retry-After"] == "60"
    time.sleep(3.1)
    signed_in = client.post("/wallets/siwe/verify", verify_body, "application/json")
    assert signed_in.status_code == 200, signed_in.json()
    assert signed_in.json()["address"] == account.address


SLOW_QUERY = (
    "import django; django.setup(); from django.db import connection; "
    "c = connection.cursor(); c.execute('SELECT pg_sleep(1.5)'); print('finished')"
)


def test_web_processes_cap_statements_and_workers_do_not(postgres_url: str) -> None:
    from django.db import connection

    # the test database pytest-django created (the server behind postgres_url, its own name)
    env = {"DATABASE_URL": postgres_url.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]}
    env["DB_WEB_STATEMENT_TIMEOUT"] = "0.5"
    web = run_python("import tmsite.asgi; " + SLOW_QUERY, env)
    assert web.returncode != 0 and "canceling statement due to statement timeout" in web.stderr, web.stderr[-2000:]
    worker = run_python(SLOW_QUERY, env)
    assert worker.returncode == 0 and worker.stdout.strip().endswith("finished"), worker.stderr[-2000:]


@pytest.fixture
def hung_peer():  # type: ignore[no-untyped-def]
    """A TCP server that accepts connections and never answers (a hung node or aggregator)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def test_outbound_calls_give_up_on_a_hung_peer_within_their_timeout(hung_peer: str, settings) -> None:  # type: ignore[no-untyped-def]
    from market.rpc import RpcClient, RpcUnavailable
    from swaps.providers import ZeroExProvider
    from swaps.services import SwapError
    from tmsite.health import chain_probe

    started = time.monotonic()
    with pytest.raises(RpcUnavailable):
        RpcClient(hung_peer, timeout=0.5, retries=1, backoff=0.1).call("eth_blockNumber")
    assert time.monotonic() - started < 3  # two attempts of 0.5 s, one backoff

    started = time.monotonic()
    with pytest.raises(SwapError):
        ZeroExProvider(base_url=hung_peer, timeout=0.5)._get("/swap/allowance-holder/price", {})
    assert time.monotonic() - started < 2

    settings.WEB3_PROVIDER_URI, settings.READYZ_TIMEOUT = hung_peer, 0.5
    started = time.monotonic()
    with pytest.raises(Exception, match="(?i)timed? ?out"):
        chain_probe()
    assert time.monotonic() - started < 2


def _dead_redis_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{sock.getsockname()[1]}/0"  # nothing listens there once closed


def test_cache_misses_instead_of_failing_while_redis_is_down() -> None:
    from tmsite.cache import ResilientRedisCache

    cache = ResilientRedisCache(_dead_redis_url(), {"OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}})
    cache.set("k", 1)
    assert cache.get("k", "missed") == "missed"
    assert cache.add("lock", 1) is False  # a lock is never believed held
    assert cache.get_many(["a", "b"]) == {} and cache.touch("k") is False and cache.delete("k") is False


def test_pages_still_render_while_redis_is_down(client) -> None:  # type: ignore[no-untyped-def]
    dead = {
        "default": {
            "BACKEND": "tmsite.cache.ResilientRedisCache",
            "LOCATION": _dead_redis_url(),
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with override_settings(CACHES=dead):
        for path in ("/", "/ratings/", "/accounts/login/"):
            assert client.get(path).status_code == 200, path
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "cache" in ready.json()["failing"]


def test_csp_built_once_follows_settings_and_per_view_policies(client) -> None:  # type: ignore[no-untyped-def]
    """The site-wide header is built once per process (tmsite.middleware.CSPMiddleware): it is
    the library's own policy, a settings change replaces it, and a view's csp_update still
    widens its own answer (the API docs need inline styles)."""
    from csp.utils import build_policy

    assert client.get("/ratings/")["Content-Security-Policy"] == build_policy()
    changed = {"DIRECTIVES": {"default-src": ["'self'"], "img-src": ["'self'", "https://img.example"]}}
    with override_settings(CONTENT_SECURITY_POLICY=changed):
        assert _policy(client.get("/ratings/"))["img-src"] == ["'self'", "https://img.example"]
    assert client.get("/ratings/")["Content-Security-Policy"] == build_policy()
    assert "'unsafe-inline'" in _policy(client.get("/api/docs/"))["style-src"]
