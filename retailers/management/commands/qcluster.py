"""``manage.py qcluster``: django-q2's cluster, stopping within a grace period on SIGTERM.

It replaces django-q2's own command (this app is listed before ``django_q``): the same options,
a cluster whose signal handler also interrupts the running tasks (see
:mod:`loyalty_site.workers` for why django-q2's own waits for them).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as DjangoQCommand

from loyalty_site.workers import signal_workers, stop_grace, wait_gone, worker_pids

logger = logging.getLogger(__name__)


#: Seconds to see whether the signal reached the sentinel too (a SIGTERM to the process group).
SENTINEL_CHECK = 0.5


class GracefulCluster(Cluster):
    """A cluster that, on SIGTERM or SIGINT, interrupts its workers' tasks, kills the workers
    still alive after ``Q_STOP_GRACE_SECONDS``, then stops as django-q2 does."""

    def sig_handler(self, signum: int, frame: Any) -> None:
        sentinel = self.sentinel
        if self.stop_event is None or sentinel is None:
            return super().sig_handler(signum, frame)
        pids = worker_pids(sentinel.pid)
        logger.info("stopping: interrupting the tasks of worker(s) %s", pids)
        signal_workers(pids, signal.SIGTERM)
        killer = threading.Timer(stop_grace(), signal_workers, (pids, signal.SIGKILL))
        killer.daemon = True
        killer.start()
        sentinel.join(timeout=SENTINEL_CHECK)
        if not sentinel.is_alive():
            # The signal went to the whole group and killed the sentinel (it keeps the default
            # handler). Setting its stop event now would wait for ever for the dead sentinel
            # to wake up; the workers, orphaned, leave by themselves once their task is done.
            wait_gone(pids, stop_grace())
            return None
        return super().sig_handler(signum, frame)


class Command(DjangoQCommand):
    help = "Starts a django-q2 cluster that stops its running tasks on SIGTERM."

    def handle(self, *args: Any, **options: Any) -> None:
        settings.SECRET_KEY  # noqa: B018 - refuse to start without it (tasks are signed)
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        cluster = GracefulCluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
