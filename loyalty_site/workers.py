"""Clean stops of the django-q2 workers on SIGTERM (and Ctrl-C).

Why a stop used to hang: django-q2 1.11.1's cluster process answers SIGTERM by asking its
sentinel to stop, and the sentinel waits for every worker to finish the task it is running:
up to the queue's ``timeout`` (an hour on the long queue). The workers themselves never hear of
the signal. So ``qcluster`` seemed to ignore SIGTERM until the running task ended, and the
supervisor's SIGKILL then left the run "running" with no worker.

What happens now (``manage.py qcluster`` is :mod:`retailers.management.commands.qcluster`):

1. The cluster process forwards the signal to its workers (the processes that installed
   :func:`_on_sigterm`), and SIGKILLs any still alive after ``Q_STOP_GRACE_SECONDS``.
2. A worker busy with a task raises :class:`WorkerStopping` inside it: the run lifecycle fails
   the run as abandoned (restartable from its page) and the task returns. An idle worker waits
   for the sentinel's stop message, or exits at once when the sentinel is gone already (a
   SIGTERM to the whole process group, as systemd sends, kills the sentinel outright).

A step inside native code (a HiGHS solve, a long SQL statement) sees the signal when it returns
to Python; psycopg cancels a running query on this exception (it is a ``KeyboardInterrupt``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Seconds the cluster gives its workers to stop after SIGTERM before it kills them.
DEFAULT_STOP_GRACE = 20


class WorkerStopping(KeyboardInterrupt):
    """Raised inside a running task when its worker is asked to stop (SIGTERM).

    A ``KeyboardInterrupt`` so that psycopg cancels an interrupted query on the server, and no
    ``except Exception`` in a task mistakes it for the task's own error.
    """


class _State:
    in_worker = False
    busy = False
    stopping = False
    parent = 0


_state = _State()


def _sentinel_gone() -> bool:
    return os.getppid() != _state.parent


def _leave_when_orphaned() -> None:
    """Exit an idle worker whose sentinel died: no stop message will come to it."""
    while True:
        time.sleep(0.2)
        if _sentinel_gone() and not _state.busy:
            os._exit(0)


def _on_sigterm(signum: int, frame: Any) -> None:
    if _state.stopping:
        return  # the first signal is being handled (a group SIGTERM and a forwarded one)
    _state.stopping = True
    # A SIGTERM to the whole group kills the sentinel (default handler) a moment later.
    threading.Thread(target=_leave_when_orphaned, name="orphan-watch", daemon=True).start()
    if _state.busy:
        raise WorkerStopping


def on_worker_spawn(**kwargs: Any) -> None:
    """``post_spawn``: a new worker process handles SIGTERM (it inherited the default).

    Not in a cluster's main process: with ``sync`` (tests) django-q2 runs the worker loop there.
    """
    if multiprocessing.parent_process() is None:
        return
    _state.in_worker, _state.parent = True, os.getppid()
    signal.signal(signal.SIGTERM, _on_sigterm)


def on_task_start(**kwargs: Any) -> None:
    """``pre_execute`` (in the worker): from now on SIGTERM interrupts the task.

    A worker that is stopping runs no further task (the sentinel's queue may still hold some it
    fetched before the stop message): it exits, and the broker delivers them again later.
    """
    if not _state.in_worker:
        return
    if _state.stopping:
        raise SystemExit(0)
    _state.busy = True


def on_task_end(**kwargs: Any) -> None:
    """``post_execute_in_worker``: the task returned; exit if stopping with no sentinel left."""
    if not _state.in_worker:
        return
    _state.busy = False
    if _state.stopping and _sentinel_gone():
        raise SystemExit(0)


def connect_worker_signals() -> None:
    """Connect the receivers above (from an ``AppConfig.ready``)."""
    from django_q.signals import post_execute_in_worker, post_spawn, pre_execute

    post_spawn.connect(on_worker_spawn, dispatch_uid="loyalty-worker-spawn")
    pre_execute.connect(on_task_start, dispatch_uid="loyalty-task-start")
    post_execute_in_worker.connect(on_task_end, dispatch_uid="loyalty-task-end")


def stop_grace() -> float:
    """``settings.Q_STOP_GRACE_SECONDS``: how long workers get to stop after SIGTERM."""
    from django.conf import settings

    return float(getattr(settings, "Q_STOP_GRACE_SECONDS", DEFAULT_STOP_GRACE))


def _catches_sigterm(pid: int) -> bool:
    """Whether process ``pid`` installed a SIGTERM handler (``SigCgt`` in /proc): our workers
    do, the sentinel's pusher and monitor do not (they must finish their bookkeeping)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except (OSError, ValueError):
        return False
    return False


def worker_pids(sentinel_pid: int) -> list[int]:
    """The worker processes of a cluster: children of its sentinel that handle SIGTERM.

    Read from /proc (Linux); elsewhere nothing is found and a stop waits for the tasks.
    """
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        pid = int(stat.parent.name)
        if parent == sentinel_pid and _catches_sigterm(pid):
            pids.append(pid)
    return pids


def wait_gone(pids: list[int], seconds: float) -> None:
    """Wait until none of ``pids`` exists any more, for ``seconds`` at most."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            alive.append(pid)
        if not alive:
            return
        time.sleep(0.1)


def signal_workers(pids: list[int], signum: int) -> None:
    """Send ``signum`` to each of ``pids`` that still exists."""
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            continue
