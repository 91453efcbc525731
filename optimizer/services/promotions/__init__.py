"""Weekly promotion runs: create (and queue), execute (proposal or backtest), schedule.

A :class:`~optimizer.models.PromotionRun` goes queued -> running -> succeeded | failed. A
*proposal* run reads the retailer's frames (``optimizer.frames.promotions``), calls the pure
engine's ``propose_week`` and writes one ``PromotionProposal`` with its items in one
transaction; the week's current proposal (still proposed) is superseded, audited, in that same
transaction, so only a run that succeeds replaces anything. A *backtest* run replays the last
weeks and stores WAPE and bias (model and naive rule) in ``run.result``; later proposals copy the
latest succeeded backtest into their ``backtest`` JSON so that staff see how far to trust them.

Each retailer has one weekly django-q2 schedule (:func:`promotion_schedules_sync`) that calls
``promotion_run_create(trigger="schedule")`` for the coming week; a schedule that fires twice for
a week that already has a current proposal (or an active run) does nothing.
"""

from optimizer.exceptions import PromotionError, PromotionRunAlreadyActive, PromotionWeekDecided
from optimizer.services.promotions.config import (
    forecast_config,
    iso_week_monday,
    monday_after,
    promotion_default_week,
    promotion_options_clean,
    selection_config,
)
from optimizer.services.promotions.execute import latest_backtest
from optimizer.services.promotions.runs import (
    current_proposal,
    promotion_run_create,
    promotion_run_execute,
    promotion_run_fail,
)
from optimizer.services.promotions.schedules import (
    promotion_schedule_name,
    promotion_schedule_next_run,
    promotion_schedules_sync,
)

__all__ = [
    "PromotionError",
    "PromotionRunAlreadyActive",
    "PromotionWeekDecided",
    "current_proposal",
    "forecast_config",
    "iso_week_monday",
    "latest_backtest",
    "monday_after",
    "promotion_default_week",
    "promotion_options_clean",
    "promotion_run_create",
    "promotion_run_execute",
    "promotion_run_fail",
    "promotion_schedule_name",
    "promotion_schedule_next_run",
    "promotion_schedules_sync",
    "selection_config",
]
