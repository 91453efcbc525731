"""POS API under load: bonus lookup (GET customer) and redemption (POST) through gunicorn.

Target: >= 300 requests/s with p95 < 50 ms and zero errors for each of the two phases.

What it does:
    1. recreates and migrates its own PostgreSQL database (``DATABASE_URL``, default
       ``postgres://postgres@127.0.0.1:5432/loyalty_bench_api``);
    2. creates the retailer ``bench-api`` with N customers, each with points and single-use
       bonuses of one issued campaign (enough bonuses for every redemption of the run), and an
       API token;
    3. starts gunicorn (``--workers`` x ``--threads``) on loopback;
    4. from a second process, drives each phase for ``--seconds`` with ``--concurrency`` client
       threads, each holding one keep-alive ``http.client`` connection; every redemption uses a
       fresh bonus code and a fresh ``Idempotency-Key``;
    5. prints requests/s, p50/p95/p99 latency and error counts per phase.

Run: ``.venv/bin/python bench/api_load.py [--seconds 15] [--concurrency 16] [--customers 5000]``.
"""

from __future__ import annotations

import argparse
import http.client
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
    "LOG_LEVEL": "WARNING",
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
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--keep-alive",
        "30",
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


def drive(port: int, phase: str, data: dict, seconds: float, concurrency: int, out) -> None:
    """Load generator (runs in its own process): one phase, results sent through ``out``."""
    headers = {"Authorization": f"Token {data['key']}", "Content-Type": "application/json"}
    codes = iter(data["codes"])
    lock = threading.Lock()
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[dict[str, int]] = [{} for _ in range(concurrency)]
    stop = time.monotonic() + seconds

    def next_code() -> str | None:
        with lock:
            return next(codes, None)

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        rng = random.Random(n)
        while time.monotonic() < stop:
            if phase == "lookup":
                method, path, body = (
                    "GET",
                    f"/api/v1/customers/{rng.choice(data['customers'])}/",
                    None,
                )
                extra = {}
            else:
                code = next_code()
                if code is None:
                    break
                method, path = "POST", "/api/v1/redemptions/"
                body = json.dumps({"code": code, "basket_amount": "25.00"})
                extra = {"Idempotency-Key": str(uuid.uuid4())}
            began = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers={**headers, **extra})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            latencies[n].append(time.perf_counter() - began)
            ok = 200 if phase == "lookup" else 201
            if status != ok:
                errors[n][str(status)] = errors[n].get(str(status), 0) + 1
        conn.close()

    began = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.monotonic() - began
    merged: dict[str, int] = {}
    for e in errors:
        for k, v in e.items():
            merged[k] = merged.get(k, 0) + v
    out.send(
        {
            "latencies": sorted(x for lat in latencies for x in lat),
            "errors": merged,
            "elapsed": elapsed,
        }
    )


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_text(errors="replace")
    except OSError:
        return ""


def cpu_seconds(parent_pid: int, db_name: str) -> tuple[float, float]:
    """CPU seconds (user + system) of gunicorn's workers and of the PostgreSQL backends of
    ``db_name``."""
    tick = os.sysconf("SC_CLK_TCK")
    web = db = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
        except (OSError, ValueError):
            continue
        used = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[1]) == parent_pid:
            web += used
        elif comm.startswith("postgres") and db_name in _cmdline(entry):
            db += used
    return web, db


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.update(SERVER_ENV)
    recreate_database(os.environ["DATABASE_URL"])
    bonuses = int(args.seconds * 1500)  # more than the server can redeem in the phase
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
    try:
        print(
            f"gunicorn {args.workers} workers x {args.threads} threads; client concurrency "
            f"{args.concurrency}, {args.seconds:.0f} s per phase. Target >= 300 req/s, "
            "p95 < 50 ms, 0 errors."
        )
        print(
            f"{'phase':<11}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
            f"{'p99 ms':>9}  errors"
        )
        ctx = mp.get_context("spawn")
        db_name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
        for phase in ("lookup", "redemption"):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=drive, args=(args.port, phase, data, args.seconds, args.concurrency, child)
            )
            cpu_before = cpu_seconds(server.pid, db_name)
            proc.start()
            result = parent.recv()
            proc.join()
            cpu_after = cpu_seconds(server.pid, db_name)
            web_cpu, db_cpu = (a - b for a, b in zip(cpu_after, cpu_before, strict=True))
            cpu = web_cpu + db_cpu
            lat = result["latencies"]
            print(
                f"{phase:<11}{len(lat):>9}{len(lat) / result['elapsed']:>9.0f}"
                f"{pct(lat, 0.5):>9.1f}{pct(lat, 0.95):>9.1f}{pct(lat, 0.99):>9.1f}  "
                f"{result['errors'] or 0}"
            )
            print(
                f"{'':<11}server CPU {cpu / max(len(lat), 1) * 1000:.1f} ms/request (gunicorn "
                f"{web_cpu / max(len(lat), 1) * 1000:.1f}, PostgreSQL "
                f"{db_cpu / max(len(lat), 1) * 1000:.1f}) -> about "
                f"{len(lat) / cpu if cpu else 0:.0f} req/s per fully free core"
            )
        print(f"load average after: {os.getloadavg()[0]:.2f} (2 cores shared with other work)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
