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
       due, the CPU per request of gunicorn and of PostgreSQL, and the errors;
    6. drives the same load again while staff export ``--lines`` transaction lines through the
       admin's Export, one export after another, and prints the tills' p95/p99 with the export
       running next to the p95 without it. ``--export request`` runs each export inside a staff
       web request (as before background exports; the staff pool's limits are lifted for it),
       ``--export job`` as the admin does it now (a background job, written by a ``qcluster``
       worker of the long queue that the bench starts). ``--pools two`` (default) runs the
       deployment's two gunicorn pools (tills: ``--workers`` x ``--threads``; staff: 2 sync
       workers, under ``nice -n 10`` as the README's deployment runs it, and so is the
       ``qcluster``); ``--pools one`` runs one pool serving both, the deployment before the split.

Run: ``.venv/bin/python bench/api_load.py [--rates 300,400] [--seconds 20] [--connections 16]
[--pools one|two] [--export request|job|none] [--lines 200000]``.
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


#: CPU priority of the staff pool and the background workers (README, deployment): on a shared
#: machine the kernel then gives the tills' workers the CPU first.
STAFF_NICE = 10


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


def add_transactions(retailer, lines: int) -> None:
    """``lines`` basket lines (four per basket) for the staff exports, written by PostgreSQL."""
    from django.db import connection

    from retailers.models import Product, Store

    store = Store.objects.create(retailer=retailer, external_id="S1", name="Bench store")
    product = Product.objects.create(retailer=retailer, sku="SKU1", unit_cost=1, price=3)
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH c AS (SELECT array_agg(id ORDER BY id) AS ids FROM customers_customer "
            "WHERE retailer_id = %s) "
            "INSERT INTO customers_transaction (retailer_id, external_id, customer_id, store_id, "
            "timestamp) SELECT %s, 'BT' || g, c.ids[1 + g %% cardinality(c.ids)], %s, "
            "now() - g * interval '1 minute' FROM c, generate_series(1, %s) g",
            [retailer.pk, retailer.pk, store.pk, (lines + 3) // 4],
        )
        cursor.execute(
            "INSERT INTO customers_transactionline (retailer_id, transaction_id, line_no, "
            "product_id, quantity, amount, discount) SELECT t.retailer_id, t.id, l, %s, 1, 2.50, "
            "0 FROM customers_transaction t, generate_series(1, 4) l WHERE t.retailer_id = %s",
            [product.pk, retailer.pk],
        )


def staff_session(retailer) -> str:
    """A signed-in session of an admin-role staff member of ``retailer``; returns its key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from retailers.models import Membership, Role

    user = User.objects.create_user("bench-staff", password=None, is_staff=True)
    Membership.objects.create(user=user, retailer=retailer, role=Role.ADMIN)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def prepare(customers: int, bonuses: int, lines: int = 0) -> dict:
    """Migrate and (re)create the bench retailer; returns the key, customer ids and codes (and
    a staff session for the exports)."""
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
        if lines:
            add_transactions(retailer, lines)
        session = staff_session(retailer)
    return {
        "key": key,
        "customers": [c.external_id for c in rows],
        "codes": codes,
        "session": session,
    }


def start_server(
    port: int, workers: int, threads: int, pool: str = "all", env: dict | None = None
) -> subprocess.Popen:
    """gunicorn with the production configuration, as the ``WEB_POOL`` ``pool`` (``"hello"``:
    the hello-world application of ``bench/hello_wsgi.py`` with the tills' configuration)."""
    app = "loyalty_site.wsgi:application"
    if pool == "hello":
        app, pool = "hello_wsgi:application", "tills"
    cmd = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        app,
        "--pythonpath",
        str(ROOT / "bench"),
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
    if pool == "staff":
        cmd = ["nice", "-n", str(STAFF_NICE), *cmd]  # as the README's deployment starts it
    server_env = {**os.environ, **SERVER_ENV, **(env or {}), "WEB_POOL": pool}
    server = subprocess.Popen(cmd, cwd=ROOT, env=server_env)  # noqa: S603
    # A redirect / a 401 / the hello: no template.
    probe = {"staff": "/", "tills": "/api/v1/campaigns/", "all": "/api/v1/campaigns/"}[pool]
    if app.startswith("hello"):
        probe = "/hello/"
    deadline = time.monotonic() + 300  # a loaded machine starts Django slowly
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", probe)
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def _request(phase: str, data: dict, rng: random.Random, next_code) -> tuple | None:
    if phase == "hello":
        return "GET", "/hello/", None, {}
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
    ok = "201" if phase == "redemption" else "200"
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


class StaffLoad(threading.Thread):
    """Staff exporting the bench's transactions through the admin, one export after another.

    ``mode`` "request": the file comes back in the answer (the server's sync limit is lifted);
    "job": the answer is the job's page, and the export counts as done when the job is. Once
    stopped, the export in progress is finished (so that it does not weigh on the next run).
    """

    CSRF = "bench" * 6 + "ab"  # 32 characters: a CSRF secret, sent as cookie and header

    def __init__(self, port: int, session: str, mode: str) -> None:
        super().__init__(daemon=True)
        self.port, self.session, self.mode = port, session, mode
        self.stopping = threading.Event()
        self.durations: list[float] = []
        self.errors: dict[str, int] = {}

    def export_once(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3600)
        headers = {
            "Cookie": f"sessionid={self.session}; csrftoken={self.CSRF}",
            "X-CSRFToken": self.CSRF,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        try:
            conn.request("POST", "/admin/customers/transaction/export/", "format=0", headers)
            response = conn.getresponse()
            while response.read(1 << 16):  # read the file as a browser downloads it
                pass
            location = response.getheader("Location") or ""
        finally:
            conn.close()
        if self.mode == "job" and response.status == 302 and "/exportjob/" in location:
            return self.wait_for_job(int(location.rstrip("/").split("/")[-2]))
        return str(response.status)

    def wait_for_job(self, job_id: int) -> str:
        from retailers.models import ExportJob, RunStatus

        while True:
            status = ExportJob.objects.values_list("status", flat=True).get(pk=job_id)
            if status not in (RunStatus.QUEUED, RunStatus.RUNNING):
                return "200" if status == RunStatus.SUCCEEDED else status
            time.sleep(0.5)

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            try:
                status = self.export_once()
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
            if status == "200":
                self.durations.append(time.perf_counter() - started)
            else:
                self.errors[status] = self.errors.get(status, 0) + 1

    def stop(self) -> str:
        """Stop after the export in progress; a summary such as "3 x 21 s"."""
        self.stopping.set()
        self.join()
        done = f"{len(self.durations)} x {max(self.durations, default=0):.0f} s"
        return done + (f" {self.errors}" if self.errors else "")


def measure(port: int, server_pid: int, db_name: str, phase: str, data: dict, rate: float, args):
    """One run of ``phase`` at ``rate`` from a second process: its result and CPU figures."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=drive,
        args=(port, phase, data, rate, args.seconds, args.warmup, args.connections, child),
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
    n = max(result["sent"], 1)
    return {**result, "spread": spread, "cpu": (web_cpu / n, db_cpu / n, result["client_cpu"] / n)}


def run_phase(
    port: int, server_pid: int, db_name: str, phase: str, data: dict, args, staff_port: int
) -> list[float]:
    """Drive one phase at each rate of ``--rates``, alone and then with staff exporting (unless
    ``--export none``, or the hello-world phase), and print one line with both. Returns the
    gunicorn CPU seconds per request of each run alone."""
    codes = iter(data["codes"])
    runs = 1 if args.export == "none" or phase == "hello" else 2
    web_cpu = []
    for rate in [r for r in args.rates for _ in range(args.repeat)]:
        figures = []
        for run in range(runs):
            # Each run redeems bonuses no earlier run has touched.
            needed = int(rate * (args.seconds + args.warmup)) + 10
            run_data = {**data, "codes": list(itertools.islice(codes, needed))}
            staff = None
            if run:
                staff = StaffLoad(staff_port, data["session"], args.export)
                staff.start()
            figures.append(measure(port, server_pid, db_name, phase, run_data, rate, args))
            figures[-1]["staff"] = staff.stop() if staff else ""
        alone = figures[0]
        web_cpu.append(alone["cpu"][0])
        lat = alone["latencies"]
        line = (
            f"{phase:<11}{rate:>8.0f}{len(lat) / alone['elapsed']:>8.0f}"
            f"{pct(lat, 0.5):>8.1f}{pct(lat, 0.95):>8.1f}{pct(lat, 0.99):>8.1f}"
            + "".join(f"{ms * 1000:>7.2f}" for ms in alone["cpu"])
            + f"  {'/'.join(map(str, alone['spread'])):<13}{alone['errors'] or 0!s:<5}"
        )
        if runs == 2:
            busy = figures[1]
            lat = busy["latencies"]
            line += (
                f"|{len(lat) / busy['elapsed']:>7.0f}{pct(lat, 0.95):>9.1f}{pct(lat, 0.99):>9.1f}"
                f"  {busy['errors'] or 0!s:<6}{busy['staff']}"
            )
        print(line, flush=True)
    return web_cpu


def busy_core() -> subprocess.Popen:
    """Another process busy on one core for the whole run (a spinning Python loop)."""
    return subprocess.Popen([PY, "-c", "while True: pass"])  # noqa: S603


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
    parser.add_argument(
        "--pools",
        choices=["one", "two"],
        default="two",
        help="two: the tills' and the staff pool (the deployment); one: one pool serves both",
    )
    parser.add_argument(
        "--export",
        choices=["request", "job", "none"],
        default="job",
        help="how staff export during the second run: in the web request, as a background job "
        "(as the admin does now), or not at all (no second run)",
    )
    parser.add_argument("--lines", type=int, default=200_000, help="transaction lines exported")
    parser.add_argument(
        "--busy-core",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep another process busy on one core during the whole run (default: on)",
    )
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.update(SERVER_ENV)
    recreate_database(os.environ["DATABASE_URL"])
    # One fresh single-use bonus per redemption of every run, warm-up included.
    runs = 1 if args.export == "none" else 2
    bonuses = int(sum(args.rates) * args.repeat * runs * (args.seconds + args.warmup) * 1.1) + 100
    t0 = time.monotonic()
    lines = 0 if args.export == "none" else args.lines
    data = prepare(args.customers, bonuses, lines)
    print(
        f"prepared {args.customers} customers, {len(data['codes'])} bonuses, {lines} transaction "
        f"lines in {time.monotonic() - t0:.1f} s; load average {os.getloadavg()[0]:.2f}"
    )

    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    port = args.port or free_port()
    # "request": each export is one long staff request, as before background exports.
    staff_env = {"EXPORT_SYNC_MAX_ROWS": str(10**9), "WEB_TIMEOUT": "3600"}
    staff_env = staff_env if args.export == "request" else {}
    processes = [start_server(free_port(), args.workers, args.threads, "hello")]
    hello_port = int(processes[0].args[processes[0].args.index("--bind") + 1].split(":")[1])
    if args.busy_core:
        processes.append(busy_core())
    if args.pools == "two":
        server = start_server(port, args.workers, args.threads, "tills")
        staff_port = free_port()
        processes.append(start_server(staff_port, 2, 1, "staff", staff_env))
    else:
        server = start_server(port, args.workers, args.threads, "all", staff_env)
        staff_port = port
    if args.export == "job":
        qcluster = ["nice", "-n", str(STAFF_NICE), PY, "manage.py", "qcluster"]
        worker_env = {**os.environ, "Q_CLUSTER_NAME": "long", "Q_WORKERS": "1"}
        processes.append(subprocess.Popen(qcluster, cwd=ROOT, env=worker_env))  # noqa: S603
    db_name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    try:
        pools = (
            f"tills' pool {args.workers} workers x {args.threads} threads, staff pool 2 sync "
            "workers"
            if args.pools == "two"
            else f"one pool for tills and staff, {args.workers} workers x {args.threads} threads"
        )
        print(
            f"gunicorn: {pools}; load from a second process over {args.connections} keep-alive "
            f"connections at a fixed arrival rate; {args.warmup:.0f} s warm-up + "
            f"{args.seconds:.0f} s measured per run. Target >= 300 req/s, p95 < 50 ms, 0 errors."
        )
        if args.export != "none":
            print(
                f"second run of each rate: staff export {lines} transaction lines through the "
                "admin, one export after another, "
                + (
                    "each inside its web request"
                    if args.export == "request"
                    else "each as a background job (one qcluster worker, long queue)"
                )
            )
        header = (
            f"{'phase':<11}{'offered':>8}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
            f"{'web ms':>7}{'db ms':>7}{'load':>7}  {'conns/worker':<13}{'errs':<5}"
        )
        if args.export != "none":
            header += f"|{'req/s':>7}{'p95 ms':>9}{'p99 ms':>9}  {'errs':<6}exports done"
            print(f"{'tills alone':^{len(header.split('|')[0])}}|  with staff exporting")
        print(header)
        web = {"hello": run_phase(hello_port, processes[0].pid, db_name, "hello", data, args, 0)}
        for phase in ("lookup", "redemption"):
            web[phase] = run_phase(port, server.pid, db_name, phase, data, args, staff_port)
        hello = sum(web["hello"]) / len(web["hello"])
        print(
            "gunicorn CPU per request, mean over the rates: "
            + ", ".join(
                f"{phase} {sum(cpu) / len(cpu) * 1000:.2f} ms ({sum(cpu) / len(cpu) / hello:.1f}x)"
                for phase, cpu in web.items()
            )
            + f"; hello = the hello-world Django view (bench/hello_wsgi.py) on the same gunicorn "
            f"settings; {'another process busy on one core all along' if args.busy_core else ''}"
        )
        print(
            "latency counts from when a request was due; web/db/load ms: CPU per request of the "
            "tills' gunicorn workers, the PostgreSQL backends and the load generator; "
            "conns/worker: the keep-alive connections each worker held halfway through; exports "
            "done: how many finished during the run (they run back to back) and the longest. "
            f"Load average after: {os.getloadavg()[0]:.2f} (2 cores shared with the load generator)"
        )
    finally:
        for process in [server, *processes]:
            process.terminate()
        for process in [server, *processes]:
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
