"""POS API under load: bonus lookup (GET customer) and redemption (POST) through gunicorn.

Target: >= 300 requests/s with p95 < 50 ms and zero errors for each of the two phases.

What it does:
    1. recreates and migrates its own PostgreSQL database (``DATABASE_URL``, default
       ``postgres://postgres@127.0.0.1:5432/loyalty_bench_api``);
    2. creates the retailer ``bench-api`` with N customers, each with points and single-use
       bonuses of one issued campaign (enough bonuses for every redemption of the run), and an
       API token;
    3. starts gunicorn (``--workers`` x ``--threads``, default 4 x 1: two per core) on loopback;
    4. from a second process, drives each phase at each arrival rate of ``--rates`` (open loop:
       requests are sent when due, whether or not earlier ones were answered, as independent
       tills send them) over ``--connections`` keep-alive ``http.client`` connections, after an
       unmeasured warm-up; every redemption uses a fresh bonus code and ``Idempotency-Key``;
    5. prints the achieved requests/s, p50/p95/p99 latency counted from when each request was
       due, the CPU per request of gunicorn and of PostgreSQL, and the errors.

Run: ``.venv/bin/python bench/api_load.py [--rates 300,400] [--seconds 20] [--connections 16]``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/loyalty_bench_api"
PY = str(ROOT / ".venv" / "bin" / "python")
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "loyalty_site.settings",
    "DJANGO_SECURE": "0",
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "API_RATE_READ": "1000000/min",
    "API_RATE_WRITE": "1000000/min",
    "LOG_LEVEL": "ERROR",  # refusals are counted, not logged
}


def recreate_database(url: str) -> None:
    """Drop and create the bench's own database (never the project's)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    if "bench" not in name:
        raise SystemExit(f"refusing to recreate {name!r}: use a database named *bench*")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def vacuum(url: str) -> None:
    """``VACUUM ANALYZE`` the bench database, as autovacuum would between runs.

    PostgreSQL's autovacuum may be off on a test machine (``SHOW autovacuum``); without it every
    run would redeem against the dead row versions of all earlier runs.
    """
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def prepare(customers: int, bonuses: int) -> dict:
    """Migrate and (re)create the bench retailer; returns the key, customer ids and codes."""
    migrate = [PY, "manage.py", "migrate", "--noinput", "-v", "0"]
    subprocess.run(migrate, cwd=ROOT, check=True)  # noqa: S603
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import datetime as dt
    from decimal import Decimal

    from django.db import transaction

    from campaigns.models import (
        Bonus,
        BonusKind,
        BonusType,
        Campaign,
        CampaignMember,
        CampaignState,
    )
    from campaigns.services.issuance import bonus_code_generate
    from campaigns.services.tokens import api_token_create
    from customers.models import Customer, PointsEntry, PointsKind
    from retailers.models import Retailer

    today = dt.datetime.now(tz=dt.UTC).date()
    with transaction.atomic():
        retailer = Retailer.objects.create(slug="bench-api", name="Bench API", time_zone="UTC")
        rows = Customer.objects.bulk_create(
            Customer(retailer=retailer, external_id=f"B{i:07d}", enrolled_on=today)
            for i in range(customers)
        )
        PointsEntry.objects.bulk_create(
            PointsEntry(
                retailer=retailer,
                customer=c,
                seq=1,
                kind=PointsKind.ADJUSTMENT,
                points=500,
                balance_after=500,
                expires_on=today + dt.timedelta(days=300),
                reason="bench",
            )
            for c in rows
        )
        btype = BonusType.objects.create(
            retailer=retailer,
            code="bench-2-off",
            name="2 off",
            kind=BonusKind.AMOUNT_DISCOUNT,
            face_value=Decimal("2.00"),
            is_active=True,
        )
        campaign = Campaign.objects.create(
            retailer=retailer,
            name="Bench",
            week_start=today,
            week_end=today,
            state=CampaignState.ISSUED,
            budget=Decimal("1e9"),
            spend_limit=Decimal("1e9"),
        )
        # One campaign has one membership per customer: spread bonuses over enough campaigns.
        per_campaign = customers
        codes: list[str] = []
        for start in range(0, bonuses, per_campaign):
            if start:
                campaign = Campaign.objects.create(
                    retailer=retailer,
                    name=f"Bench {start}",
                    week_start=today,
                    week_end=today,
                    state=CampaignState.ISSUED,
                    budget=Decimal("1e9"),
                    spend_limit=Decimal("1e9"),
                )
            chunk = rows[: min(per_campaign, bonuses - start)]
            members = CampaignMember.objects.bulk_create(
                CampaignMember(
                    retailer=retailer,
                    campaign=campaign,
                    customer=c,
                    bonus_type=btype,
                    send_on=today,
                    expires_on=today + dt.timedelta(days=7),
                )
                for c in chunk
            )
            batch = [bonus_code_generate() for _ in members]
            Bonus.objects.bulk_create(
                Bonus(
                    retailer=retailer,
                    campaign=campaign,
                    member=m,
                    customer_id=m.customer_id,
                    bonus_type=btype,
                    code=code,
                    value=Decimal("2.00"),
                    redemption_cost=Decimal("2.00"),
                    valid_from=today,
                    valid_to=today + dt.timedelta(days=7),
                )
                for m, code in zip(members, batch, strict=True)
            )
            codes.extend(batch)
        key = api_token_create(retailer=retailer, name="bench till").key
    return {"key": key, "customers": [c.external_id for c in rows], "codes": codes}


def start_server(port: int, workers: int, threads: int) -> subprocess.Popen:
    cmd = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "loyalty_site.wsgi:application",
        "--config",
        "python:loyalty_site.gunicorn_conf",  # the production settings
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **SERVER_ENV})  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/campaigns/")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def _request(phase: str, data: dict, rng: random.Random, next_code) -> tuple | None:
    if phase == "lookup":
        return "GET", f"/api/v1/customers/{rng.choice(data['customers'])}/", None, {}
    code = next_code()
    if code is None:
        return None
    body = json.dumps({"code": code, "basket_amount": "25.00"})
    return "POST", "/api/v1/redemptions/", body, {"Idempotency-Key": str(uuid.uuid4())}


def drive(
    port: int,
    phase: str,
    data: dict,
    rate: float,
    seconds: float,
    warmup: float,
    connections: int,
    out,
) -> None:
    """Load generator (runs in its own process): one phase at a fixed arrival rate.

    Open loop, as tills are: request ``k`` is due at ``start + k / rate`` whatever the server is
    doing, spread round-robin over ``connections`` keep-alive connections. A request's latency runs
    from the moment it was *due*, so a server that falls behind is charged for the queue it builds
    (no coordinated omission). Requests due during the first ``warmup`` seconds are not counted.
    """
    headers = {"Authorization": f"Token {data['key']}", "Content-Type": "application/json"}
    codes = iter(data["codes"])
    lock = threading.Lock()
    results: list[list[tuple[float, float, str]]] = [[] for _ in range(connections)]
    total = int((warmup + seconds) * rate)
    start = time.perf_counter() + 0.2

    def next_code() -> str | None:
        with lock:
            return next(codes, None)

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        rng = random.Random(n)
        for k in range(n, total, connections):
            due = start + k / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            request = _request(phase, data, rng, next_code)
            if request is None:
                break
            method, path, body, extra = request
            try:
                conn.request(method, path, body=body, headers={**headers, **extra})
                response = conn.getresponse()
                response.read()
                status = str(response.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            results[n].append((due - start, time.perf_counter() - due, status))
        conn.close()

    cpu_start = time.process_time()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    ok = "200" if phase == "lookup" else "201"
    measured = [r for rs in results for r in rs if r[0] >= warmup]
    errors: dict[str, int] = {}
    for _, _, status in measured:
        if status != ok:
            errors[status] = errors.get(status, 0) + 1
    last_done = max((due + lat for due, lat, _ in measured), default=warmup)
    out.send(
        {
            "latencies": sorted(lat for _, lat, _ in measured),
            "errors": errors,
            "elapsed": max(last_done - warmup, 1e-9),
            "sent": sum(len(rs) for rs in results),
            "client_cpu": time.process_time() - cpu_start,
        }
    )


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_text(errors="replace")
    except OSError:
        return ""


def cpu_seconds(parent_pid: int, db_name: str) -> dict[tuple[str, int], float]:
    """CPU seconds (user + system) per process of gunicorn's workers (``("web", pid)``) and of
    the PostgreSQL backends of ``db_name`` (``("db", pid)``)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[tuple[str, int], float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
        except (OSError, ValueError):
            continue
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[1]) == parent_pid:
            used["web", int(entry.name)] = seconds
        elif comm.startswith("postgres") and db_name in _cmdline(entry):
            used["db", int(entry.name)] = seconds
    return used


def cpu_used(before: dict, after: dict) -> tuple[float, float]:
    """(web, db) CPU seconds between two :func:`cpu_seconds` snapshots (new processes count
    from zero; processes that ended in between are not counted)."""
    web = db = 0.0
    for (kind, pid), seconds in after.items():
        delta = seconds - before.get((kind, pid), 0.0)
        if kind == "web":
            web += delta
        else:
            db += delta
    return web, db


def connections_per_worker(parent_pid: int, port: int) -> list[int]:
    """How many established client connections each gunicorn worker holds on ``port``."""
    local = f":{port:04X}"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                cols = row.split()
                if cols[1].endswith(local) and cols[3] == "01":  # ESTABLISHED, server side
                    inodes.add(cols[9])
    counts = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != parent_pid:
                continue
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except (OSError, ValueError, IndexError):
            continue
        counts.append(sum(link[8:-1] in inodes for link in links if link.startswith("socket:[")))
    return sorted(counts, reverse=True)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


def run_phase(port: int, server_pid: int, db_name: str, phase: str, data: dict, args) -> None:
    """Drive one phase at each rate of ``--rates`` from a second process and print its line."""
    ctx = mp.get_context("spawn")
    codes = iter(data["codes"])
    for rate in [r for r in args.rates for _ in range(args.repeat)]:
        # Each run redeems bonuses no earlier run has touched.
        needed = int(rate * (args.seconds + args.warmup)) + 10
        run_data = {**data, "codes": list(itertools.islice(codes, needed))}
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=drive,
            args=(port, phase, run_data, rate, args.seconds, args.warmup, args.connections, child),
        )
        vacuum(os.environ["DATABASE_URL"])
        cpu_before = cpu_seconds(server_pid, db_name)
        proc.start()
        # Halfway through, how the keep-alive connections are spread over the workers.
        parent.poll(args.warmup + args.seconds / 2)
        spread = connections_per_worker(server_pid, port)
        result = parent.recv()
        proc.join()
        web_cpu, db_cpu = cpu_used(cpu_before, cpu_seconds(server_pid, db_name))
        lat = result["latencies"]
        n = max(result["sent"], 1)
        print(
            f"{phase:<11}{rate:>8.0f}{len(lat):>9}{len(lat) / result['elapsed']:>9.0f}"
            f"{pct(lat, 0.5):>9.1f}{pct(lat, 0.95):>9.1f}{pct(lat, 0.99):>9.1f}"
            f"{web_cpu / n * 1000:>9.2f}{db_cpu / n * 1000:>9.2f}"
            f"{result['client_cpu'] / n * 1000:>9.2f}  {'/'.join(map(str, spread)):<14}"
            f"{result['errors'] or 0}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per rate")
    parser.add_argument("--repeat", type=int, default=1, help="run every rate this many times")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds first")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[300.0],
        help="arrival rates to drive, requests/s, comma-separated (default 300)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=64,
        help="keep-alive connections (tills, or a proxy's upstream connections) to spread over",
    )
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.update(SERVER_ENV)
    recreate_database(os.environ["DATABASE_URL"])
    # One fresh single-use bonus per redemption of every rate, warm-up included.
    bonuses = int(sum(args.rates) * args.repeat * (args.seconds + args.warmup) * 1.1) + 100
    t0 = time.monotonic()
    data = prepare(args.customers, bonuses)
    print(
        f"prepared {args.customers} customers, {len(data['codes'])} bonuses in "
        f"{time.monotonic() - t0:.1f} s; load average {os.getloadavg()[0]:.2f}"
    )
    if not args.port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    server = start_server(args.port, args.workers, args.threads)
    db_name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    try:
        print(
            f"gunicorn {args.workers} workers x {args.threads} threads; load from a second "
            f"process over {args.connections} keep-alive connections at a fixed arrival rate; "
            f"{args.warmup:.0f} s warm-up + {args.seconds:.0f} s measured per rate. "
            "Target >= 300 req/s, p95 < 50 ms, 0 errors."
        )
        print(
            f"{'phase':<11}{'offered':>8}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
            f"{'p99 ms':>9}{'web ms':>9}{'db ms':>9}{'load ms':>9}  {'conns/worker':<14}errors"
        )
        for phase in ("lookup", "redemption"):
            run_phase(args.port, server.pid, db_name, phase, data, args)
        print(
            "latency counts from when a request was due; web/db/load ms: CPU per request of the "
            "gunicorn workers, the PostgreSQL backends and the load generator; conns/worker: the "
            "keep-alive connections each worker held halfway through. Load average after: "
            f"{os.getloadavg()[0]:.2f} (2 cores shared with the load generator)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
