"""Load, soak and fault profile: the production-shaped site under a crowd, with faults.

    .venv/bin/python bench/load_bench.py                      # short run, 60 s (make bench-load)
    .venv/bin/python bench/load_bench.py --soak 1800 --faults # the 30-minute soak with faults

Starts everything on free ports, on its own: a private redis-server (so it can be restarted
without touching anyone else's), a fresh PostgreSQL database (``LOAD_DATABASE_URL``, default
``tmsite_load``), anvil with a short simulated market (``simulate_market --follow`` keeps
trading during the run), the site as ``make serve`` runs it (granian, WSGI, ``--web-workers`` processes of
``--web-threads`` threads, ``DEBUG=0``),
a Celery worker and beat (the indexer runs every ``INDEX_INTERVAL`` s from the beat schedule).
Then locust (``bench/locustfile.py``) drives ratings pages, token pages, API reads and swap
quotes, headless, for ``--duration`` s, while a sampler records every 5 s: web and worker
RSS, indexer lag (node head minus indexed head) and ``/readyz``.

``--faults`` injects, at fixed fractions of the run: a Redis restart (SIGKILL, then the same
port and append-only file), the node frozen for 60 s (SIGSTOP/SIGCONT: requests to it hang
until their timeouts, like a partitioned node), and the worker killed (SIGKILL to its
process group) and started again 5 s later. Afterwards it checks that nothing was lost
(every ``Swap`` log the node has up to the indexed head is a row) and that the indexer
caught up. Prints per-endpoint figures, memory, lag and fault windows; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
VENV_BIN = Path(sys.executable).parent
SWAP_TOPIC = "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"


def redis_command(port: int, var_dir: Path) -> list[str]:
    """The private redis-server: append-only on disk, so a restart (a fault) keeps its data."""
    return [
        "redis-server",
        *("--port", str(port), "--bind", "127.0.0.1", "--save", ""),
        *("--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(var_dir)),
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        answer = json.loads(reply.read())
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return answer["result"]


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def group_rss_mb(pid: int | None) -> float | None:
    """RSS of a process and all its descendants, in MB (None once it is gone)."""
    if pid is None:
        return None
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs if p.is_running()) / 1e6
    except psutil.Error:
        return None


@dataclass
class Stack:
    """Every process the run started (each in its own process group), and how to reach it."""

    var_dir: Path
    env: dict[str, str]
    web_url: str
    rpc_url: str
    redis_port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Any] = field(default_factory=dict)

    def spawn(self, name: str, argv: list[str], **extra_env: str) -> subprocess.Popen[bytes]:
        log = self.logs.get(name) or (self.var_dir / f"{name}.log").open("ab")
        self.logs[name] = log
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGTERM, wait: float = 20.0) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def manage(self, *argv: str, timeout: float = 900) -> None:
        started = time.perf_counter()
        result = subprocess.run(
            [PY, "manage.py", *argv], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(argv)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        print(f"  manage.py {argv[0]}: {time.perf_counter() - started:.1f}s", flush=True)

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            if name == "anvil":
                with_anvil = self.procs[name]
                if with_anvil.poll() is None:
                    os.killpg(with_anvil.pid, signal.SIGCONT)  # a frozen node cannot exit
            self.kill(name)
        for log in self.logs.values():
            log.close()


def database_fresh(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s")


def wait_redis(port: int, timeout: float = 20.0) -> None:
    import redis

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return
        except redis.RedisError:
            time.sleep(0.2)
    raise SystemExit(f"redis-server on {port} did not start")


def build(args: argparse.Namespace) -> Stack:
    var_dir = Path(tempfile.mkdtemp(prefix="load-bench-", dir=ROOT / "var"))
    # collected static files are kept between runs (hashing and compressing them takes a while)
    kept_static = ROOT / "var" / "bench" / "load-staticfiles"
    kept_static.mkdir(parents=True, exist_ok=True)
    (var_dir / "staticfiles").symlink_to(kept_static)
    redis_port, rpc_port, web_port = free_port(), free_port(), free_port()
    rpc_url = f"http://127.0.0.1:{rpc_port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tmsite.settings",
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": args.database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "WEB3_PROVIDER_URI": rpc_url,
        "CHAIN_ID": "31337",
        "DEBUG": "0",
        "SECRET_KEY": "load-bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_FORMAT": "json",
        "INDEX_INTERVAL": "5",
        "RATINGS_INTERVAL": "300",
        "MOONSHOT_INTERVAL": "300",
        # one client IP plays every visitor: per-IP throttles would only measure themselves
        "API_THROTTLE_ANON": "100000/min",
        "API_THROTTLE_SWAP_QUOTE": "100000/min",
        "API_RATE_ANON": "100000/min",
        "API_RATE_PRO": "100000/min",
    }
    stack = Stack(
        var_dir=var_dir, env=env, web_url=f"http://127.0.0.1:{web_port}", rpc_url=rpc_url, redis_port=redis_port
    )
    print(f"work dir {var_dir}; redis :{redis_port}, anvil :{rpc_port}, web :{web_port}", flush=True)
    try:
        started = time.perf_counter()
        stack.spawn(
            "redis",
            redis_command(redis_port, var_dir),
        )
        wait_redis(redis_port)
        database_fresh(args.database_url)
        stack.manage("migrate", "--noinput", "--verbosity", "0")
        stack.manage("collectstatic", "--noinput", "--verbosity", "0")

        # anvil whose genesis predates the simulated history, then the simulator, which keeps trading
        start = int(time.time() - args.days * 86_400) // 3600 * 3600
        from chain.node import anvil_args

        stack.spawn("anvil", anvil_args(port=rpc_port, genesis_timestamp=start - 86_400))
        wait_rpc(rpc_url)
        sim_log = var_dir / "simulator.log"
        stack.spawn(
            "simulator",
            [
                PY,
                "manage.py",
                "simulate_market",
                "--tokens",
                str(args.tokens),
                "--days",
                str(args.days),
                "--start-time",
                str(start),
                "--block-seconds",
                "1800",
                "--rpc",
                rpc_url,
                "--seed",
                "11",
                "--follow",
            ],
        )
        deadline = time.monotonic() + 900
        while b"history done" not in sim_log.read_bytes():
            if stack.procs["simulator"].poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the simulator stopped before its history was done:\n" + sim_log.read_text()[-3000:])
            time.sleep(1)
        took = time.perf_counter() - started
        print(f"  simulated {args.tokens} tokens x {args.days:g} days: {took:.0f}s", flush=True)
        stack.manage("index_chain", "--rpc", rpc_url, "--quiet")
        stack.manage("compute_grades", "--chain-id", "31337", "--risk", "--rpc", rpc_url)
        targets = var_dir / "targets.json"
        code = (
            "import django, json; django.setup(); from market.models import Token; "
            "from wallets.models import User; from tmsite.api.services import api_key_create; "
            "user = User.objects.create_user(username='load', email='load@example.com'); "
            "_, key = api_key_create(user=user, name='load', plan='pro'); "
            "print(json.dumps({'key': key, 'tokens': [t.address for t in Token.objects.filter(chain_id=31337, "
            "liquidity_usd__gt=0).exclude(symbol__in=['WETH', 'USDC'])]}))"
        )
        out = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
        found = json.loads(out.strip().splitlines()[-1])
        tokens = found["tokens"]
        targets.write_text(json.dumps({"chain_id": 31337, "tokens": tokens, "api_key": found["key"]}))
        print(f"  {len(tokens)} tokens to visit; ready in {time.perf_counter() - started:.0f}s", flush=True)

        # as `make serve` runs it: WSGI, processes x threads, multiprocess metrics
        metrics = var_dir / "metrics"
        (metrics / "web").mkdir(parents=True)
        (metrics / "worker").mkdir(parents=True)
        stack.env["METRICS_WORKER_PORT"] = str(free_port())
        stack.spawn(
            "web",
            [
                str(VENV_BIN / "granian"),
                "--interface",
                "wsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(web_port),
                "--workers",
                str(args.web_workers),
                "--blocking-threads",
                str(args.web_threads),
                "tmsite.wsgi:application",
            ],
            PROMETHEUS_MULTIPROC_DIR=str(metrics / "web"),
        )
        worker_start(stack, args)
        stack.spawn(
            "beat",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "tmsite",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(var_dir / "celerybeat-schedule"),
            ],
        )
        wait_http(f"{stack.web_url}/healthz")
    except BaseException:  # whatever was started so far is stopped, not left running
        stack.stop_all()
        raise
    return stack


def worker_start(stack: Stack, args: argparse.Namespace) -> None:
    stack.spawn(
        "worker",
        [
            str(VENV_BIN / "celery"),
            "-A",
            "tmsite",
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            str(args.worker_concurrency),
            "-Q",
            "indexing,grading,swap,default",  # every workload queue, as `make worker` consumes them
        ],
        PROMETHEUS_MULTIPROC_DIR=str(stack.var_dir / "metrics" / "worker"),
    )


def wait_rpc(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rpc(url, "eth_chainId", timeout=1)
            return
        except (OSError, RuntimeError):
            time.sleep(0.2)
    raise SystemExit(f"anvil at {url} did not start")


def indexed_next_block(env: dict[str, str]) -> int | None:
    import psycopg

    try:
        with psycopg.connect(env["DATABASE_URL"], connect_timeout=2) as conn:
            row = conn.execute("SELECT next_block FROM market_checkpoint WHERE chain_id = 31337").fetchone()
        return int(row[0]) if row else None
    except psycopg.Error:
        return None


@dataclass
class Sample:
    t: float
    web_mb: float | None
    worker_mb: float | None
    head: int | None
    indexed: int | None
    ready: int
    down: list[str]

    @property
    def lag(self) -> int | None:
        return None if self.head is None or self.indexed is None else max(0, self.head - (self.indexed - 1))


def sampler(stack: Stack, samples: list[Sample], stop: threading.Event, t0: float) -> None:
    while not stop.is_set():
        try:
            head: int | None = int(rpc(stack.rpc_url, "eth_blockNumber", timeout=1.5), 16)
        except (OSError, RuntimeError, ValueError):
            head = None
        ready, down = 0, []
        try:
            with urllib.request.urlopen(f"{stack.web_url}/readyz", timeout=10) as reply:
                ready = reply.status
        except urllib.error.HTTPError as error:
            ready = error.code
            try:
                body = json.loads(error.read())
                down = sorted(k for k, v in body.get("checks", body).items() if isinstance(v, dict) and not v.get("ok"))
            except (ValueError, AttributeError):
                pass
        except OSError:
            ready = 0
        web_pid = stack.procs["web"].pid if "web" in stack.procs else None
        worker_pid = stack.procs["worker"].pid if "worker" in stack.procs else None
        samples.append(
            Sample(
                time.time() - t0,
                group_rss_mb(web_pid),
                group_rss_mb(worker_pid),
                head,
                indexed_next_block(stack.env),
                ready,
                down,
            )
        )
        stop.wait(5.0)


@dataclass
class Fault:
    name: str
    start: float
    end: float = 0.0
    note: str = ""


def inject_faults(
    stack: Stack, args: argparse.Namespace, faults: list[Fault], stop: threading.Event, t0: float
) -> None:
    duration = args.duration

    def at(fraction: float) -> bool:
        return not stop.wait(max(0.0, t0 + duration * fraction - time.time()))

    if at(0.2):  # Redis restarted: the broker, the cache and the throttle counters go away for a moment
        fault = Fault("redis restart", time.time() - t0)
        stack.kill("redis", signal.SIGKILL)
        time.sleep(2)
        stack.spawn(
            "redis",
            redis_command(stack.redis_port, stack.var_dir),
        )
        wait_redis(stack.redis_port)
        fault.end = time.time() - t0
        faults.append(fault)
    if at(0.4):  # the node frozen for 60 s
        fault = Fault("node stopped 60 s", time.time() - t0)
        os.killpg(stack.procs["anvil"].pid, signal.SIGSTOP)
        stop.wait(60)
        os.killpg(stack.procs["anvil"].pid, signal.SIGCONT)
        fault.end = time.time() - t0
        faults.append(fault)
    if at(0.65):  # a worker killed mid-task, then started again
        fault = Fault("worker killed", time.time() - t0)
        stack.kill("worker", signal.SIGKILL)
        time.sleep(5)
        worker_start(stack, args)
        fault.end = time.time() - t0
        faults.append(fault)


def lost_swaps(stack: Stack) -> tuple[int, int, int]:
    """(logs on the node, rows indexed, indexed head) for every Swap up to the indexed head."""
    import psycopg

    next_block = indexed_next_block(stack.env) or 0
    head = next_block - 1
    logs = rpc(
        stack.rpc_url, "eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(head), "topics": [SWAP_TOPIC]}], timeout=60
    )
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        row = conn.execute("SELECT count(*) FROM market_swap WHERE block_number <= %s", (head,)).fetchone()
    return len(logs), int(row[0]) if row else 0, head


def report(
    rows: list[dict[str, Any]], samples: list[Sample], faults: list[Fault], t0: float, duration: float
) -> dict[str, Any]:
    for row in rows:
        row["t"] = float(row["time"]) - t0
    endpoints: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        endpoints.setdefault(row["name"], []).append(row)
    result: dict[str, Any] = {
        "requests": len(rows),
        "errors": sum(1 for r in rows if r["ok"] == "0"),
        "seconds": duration,
        "endpoints": {},
    }
    print(f"\n{len(rows):,} requests in {duration:.0f} s ({len(rows) / duration:.1f}/s), {result['errors']} errors")
    print(f"{'endpoint':<22}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for name in sorted(endpoints):
        items = endpoints[name]
        times = [float(r["ms"]) for r in items]
        errors = sum(1 for r in items if r["ok"] == "0")
        figures = {
            "requests": len(items),
            "errors": errors,
            "p50_ms": percentile(times, 50),
            "p99_ms": percentile(times, 99),
        }
        result["endpoints"][name] = figures
        print(f"{name:<22}{len(items):>10,}{errors:>8}{figures['p50_ms']:>9.0f}{figures['p99_ms']:>9.0f}")
    windows = [(f.name, f.start, f.end + 30) for f in faults]  # a fault's effects last a little past it
    if faults:
        print("\nfaults (window = fault + 30 s):")
        for name, start, end in windows:
            inside = [r for r in rows if start <= r["t"] <= end]
            errs = [r for r in inside if r["ok"] == "0"]
            by_status: dict[str, int] = {}
            for r in errs:
                by_status[f"{r['name']} {r['status']}"] = by_status.get(f"{r['name']} {r['status']}", 0) + 1
            ready = [s for s in samples if start <= s.t <= end]
            not_ready = sorted({d for s in ready if s.ready != 200 for d in s.down})
            print(
                f"  {name:<18} t={start:5.0f}-{end - 30:5.0f}s  requests {len(inside):,}  errors {len(errs)} "
                f"{by_status or ''}  /readyz down: {not_ready or 'never'}"
            )
            result.setdefault("faults", []).append(
                {
                    "name": name,
                    "start": start,
                    "end": end - 30,
                    "requests": len(inside),
                    "errors": len(errs),
                    "errors_by_endpoint": by_status,
                    "readyz_down": not_ready,
                }
            )
        outside = [r for r in rows if not any(s <= r["t"] <= e for _, s, e in windows)]
        result["errors_outside_faults"] = sum(1 for r in outside if r["ok"] == "0")
        print(f"  outside the fault windows: {len(outside):,} requests, {result['errors_outside_faults']} errors")
    ok = [s for s in samples if s.web_mb is not None and s.worker_mb is not None]
    if ok:
        head, tail = ok[: max(1, len(ok) // 10)], ok[-max(1, len(ok) // 10) :]
        web0, web1 = statistics.mean(s.web_mb for s in head), statistics.mean(s.web_mb for s in tail)  # type: ignore[misc]
        wk0, wk1 = statistics.mean(s.worker_mb for s in head), statistics.mean(s.worker_mb for s in tail)  # type: ignore[misc]
        result["memory_mb"] = {"web_start": web0, "web_end": web1, "worker_start": wk0, "worker_end": wk1}
        print(f"\nRSS (first/last tenth of the run): web {web0:.0f} -> {web1:.0f} MB, worker {wk0:.0f} -> {wk1:.0f} MB")
    lags = [(s.t, s.lag) for s in samples if s.lag is not None]
    if lags:
        buckets = max(1, len(lags) // 10)
        series = [max(lag for _, lag in lags[i : i + buckets]) for i in range(0, len(lags), buckets)]  # type: ignore[type-var]
        result["lag_blocks"] = {"max": max(lag for _, lag in lags), "end": lags[-1][1], "series": series}
        print(f"indexer lag in blocks, max per tenth of the run: {series} (end {lags[-1][1]})")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--soak", type=float, default=None, help="a soak of this many seconds (sets --duration)")
    parser.add_argument("--faults", action="store_true", help="restart Redis, stop the node 60 s, kill the worker")
    parser.add_argument("--users", type=int, default=8, help="concurrent locust users (default 8)")
    parser.add_argument("--tokens", type=int, default=12)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument(
        "--database-url", default=os.environ.get("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tmsite_load")
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    if args.soak:
        args.duration = args.soak
    if args.faults and args.duration < 200:
        parser.error("--faults needs --duration of at least 200 s (the node alone is down for 60 s)")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tmsite.settings")

    stack = build(args)
    samples: list[Sample] = []
    faults: list[Fault] = []
    stop = threading.Event()
    try:
        t0 = time.time()
        threading.Thread(target=sampler, args=(stack, samples, stop, t0), daemon=True).start()
        if args.faults:
            threading.Thread(target=inject_faults, args=(stack, args, faults, stop, t0), daemon=True).start()
        requests_csv = stack.var_dir / "requests.csv"
        print(f"\nload: {args.users} users for {args.duration:.0f} s against {stack.web_url}", flush=True)
        locust = subprocess.run(
            [
                str(VENV_BIN / "locust"),
                "-f",
                str(ROOT / "bench" / "locustfile.py"),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(max(1, args.users // 2)),
                "-t",
                f"{int(args.duration)}s",
                "--host",
                stack.web_url,
                "--only-summary",
                "--loglevel",
                "WARNING",
                "--exit-code-on-error",
                "0",
            ],
            cwd=ROOT,
            env={
                **stack.env,
                "LOAD_TARGETS": str(stack.var_dir / "targets.json"),
                "LOAD_REQUESTS_CSV": str(requests_csv),
            },
            capture_output=True,
            text=True,
        )
        duration = time.time() - t0
        if locust.returncode != 0 or not requests_csv.exists():
            raise SystemExit(f"locust failed ({locust.returncode}):\n{locust.stderr[-3000:]}")
        # after the load: give the indexer a moment to reach the head, then check nothing was lost
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not samples or (samples[-1].lag or 0) > 2):
            time.sleep(5)
        stop.set()
        with requests_csv.open() as f:
            rows = list(csv.DictReader(f))
        result = report(rows, samples, faults, t0, duration)
        on_node, indexed, head = lost_swaps(stack)
        result["swaps"] = {"on_node": on_node, "indexed": indexed, "indexed_head": head}
        print(
            f"swaps up to the indexed head (block {head}): {on_node:,} on the node, {indexed:,} indexed"
            f" -> {'nothing lost' if on_node == indexed else 'MISMATCH'}"
        )
        if args.json:
            args.json.write_text(
                json.dumps({"samples": [s.__dict__ | {"lag": s.lag} for s in samples], **result}, indent=1, default=str)
            )
    finally:
        stop.set()
        stack.stop_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
