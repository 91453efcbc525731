"""Restarting a run whose worker died or was stopped: the same run queued again, audited.

Re-queueing the same row (not a copy) keeps one run per request in the history, its settings
exactly as they were, and its attempts counted: the lifecycle's claim starts attempt N+1 and
clears what the dead attempt left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from campaigns.models import AuditAction
from campaigns.services.audit import audit_record
from optimizer.models import AllocationRun, PromotionRun, ScoringRun
from optimizer.services.allocation import ALLOCATION
from optimizer.services.promotions.runs import PROMOTION
from optimizer.services.runs import SCORING
from retailers.lifecycle import RunKind, RunNotRestartable, run_requeue
from retailers.runs import BackgroundRun, RunStatus

if TYPE_CHECKING:
    from loyalty_site.users import User

KINDS: dict[type[BackgroundRun], RunKind] = {
    ScoringRun: SCORING,
    AllocationRun: ALLOCATION,
    PromotionRun: PROMOTION,
}


@transaction.atomic(durable=True)
def run_restart(*, run: BackgroundRun, actor: User) -> BackgroundRun:
    """Queue the abandoned ``run`` again with the same settings and audit who did it.

    Args:
        run: a scoring, allocation or promotion run failed as abandoned (or running without
            a heartbeat for ``RUN_ABANDONED_AFTER_SECONDS``).
        actor: the staff user (the view checks the analyst role).

    Raises:
        RunNotRestartable: the run did not die, or another run it may not run beside is active.
    """
    restarted, reason = run_requeue(
        kind=KINDS[type(run)],
        run_id=run.pk,
        conflict=lambda other: RunNotRestartable(
            "another run of this kind is queued or running: wait for it to finish"
        ),
    )
    audit_record(
        target=restarted,
        action=AuditAction.RESTART,
        actor=actor,
        from_state=RunStatus.FAILED,
        to_state=RunStatus.QUEUED,
        comment=reason,
        data={"attempts": restarted.attempt},
    )
    return restarted
