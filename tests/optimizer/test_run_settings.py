"""Typed run settings at the edges: rows stored before them still parse (and allocation runs
still run), and the form, the command and the re-run refuse a bad budget with the one rule's
message."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse

from campaigns.models import CampaignMember
from optimizer.models import AllocationRun, PromotionRun
from optimizer.services.allocation import allocation_run_execute
from retailers.models import Role, RunStatus
from tests.optimizer.allocation_fixtures import AS_OF, scored_tenant, start_allocation

pytestmark = pytest.mark.django_db
BAD_BUDGETS = [("0", "0.00"), ("-5", "-5.00")]


def test_a_run_stored_with_old_format_constraints_parses_and_runs(retailer):
    scoring_run = scored_tenant(retailer)
    # As the command stored them before the typed settings: numbers as strings, None for
    # "the retailer's", an exclusion written twice.
    run = AllocationRun.objects.create(
        retailer=retailer,
        scoring_run=scoring_run,
        week_start=AS_OF,
        budget=Decimal("20.00"),
        constraints={
            "type_caps": {"coupon-5": "2"},
            "segment_coverage": {},
            "contact_limit": None,
            "contact_window_weeks": "4",
            "excluded_customers": [],
        },
        control_share=Decimal("0.200"),
    )
    settings = run.settings
    assert settings.type_caps == {"coupon-5": 2}
    assert settings.contact_limit is None
    assert settings.contact_window_weeks == 4
    assert settings.budget == Decimal("20.00")

    run = allocation_run_execute(run_id=run.pk)

    assert run.status == RunStatus.SUCCEEDED, run.error
    treated = CampaignMember.objects.filter(campaign=run.campaign, is_control=False)
    assert treated.filter(bonus_type__code="coupon-5").count() <= 2
    assert treated.exists()


def test_new_runs_store_the_same_constraints_shape(retailer):
    scored_tenant(retailer)
    run = start_allocation(
        retailer=retailer,
        budget="20",
        constraints={"type_caps": {"coupon-5": "3"}, "contact_limit": 2},
        enqueue=False,
    )
    run.refresh_from_db()
    # The retailer's coupling rules (none) and gap tolerance are recorded on the run.
    assert run.constraints == {
        "type_caps": {"coupon-5": 3},
        "contact_limit": 2,
        "coupling": [],
        "gap_tolerance": "0.000100",
    }
    assert run.budget == Decimal("20.00")


@pytest.mark.parametrize(("raw", "shown"), BAD_BUDGETS)
def test_the_start_form_uses_the_one_budget_rule(client, retailer, make_staff, raw, shown):
    scored_tenant(retailer)
    client.force_login(make_staff(retailer, Role.ANALYST))
    week = dt.date(2025, 6, 9).isoformat()
    data = {
        "budget": raw,
        "week_start": week,
        "contact_limit": "2",
        "contact_window_weeks": "4",
        "control_share": "10",
    }
    response = client.post(reverse("optimizer:allocation-start"), data)
    assert response.status_code == 200
    errors = response.context["form"].errors["budget"]
    assert f"budget must be a positive amount, got {shown}." in errors
    assert not AllocationRun.objects.exists()


@pytest.mark.parametrize(("raw", "shown"), BAD_BUDGETS)
def test_the_command_uses_the_one_budget_rule(retailer, raw, shown):
    scored_tenant(retailer)
    with pytest.raises(CommandError, match=f"budget must be a positive amount, got {shown}"):
        call_command("allocate", "--retailer", retailer.slug, f"--budget={raw}")
    assert not AllocationRun.objects.exists()


def test_the_command_names_a_bad_cap(retailer):
    scored_tenant(retailer)
    with pytest.raises(CommandError, match=r"type_caps\[coupon-5\]: 'many' is not a whole"):
        call_command(
            "allocate", "--retailer", retailer.slug, "--budget=20", "--cap", "coupon-5=many"
        )


@pytest.mark.parametrize(("raw", "shown"), BAD_BUDGETS)
def test_the_rerun_uses_the_one_budget_rule(client, retailer, make_staff, raw, shown):
    scored_tenant(retailer)
    run = allocation_run_execute(
        run_id=start_allocation(retailer=retailer, budget="20", enqueue=False).pk
    )
    client.force_login(make_staff(retailer, Role.APPROVER))
    response = client.post(
        reverse("campaigns:campaign-rerun", args=[run.campaign.pk]),
        {"action": "budget", "budget": raw},
    )
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(f"budget must be a positive amount, got {shown}." in t for t in texts), texts
    assert AllocationRun.objects.count() == 1


def test_a_promotion_run_stored_with_old_format_options_parses(retailer):
    run = PromotionRun.objects.create(
        retailer=retailer,
        week_start=dt.date(2025, 6, 9),
        options={
            "k": 20,
            "max_per_category": None,
            "discount_budget": "150.00",
            "recent_weeks": 4,
            "pinned": ["SKU-1"],
            "banned": [],
            "segments": None,
            "backtest_weeks": 52,
        },
    )
    settings = PromotionRun.objects.get(pk=run.pk).settings
    assert settings.max_per_category is None
    assert settings.discount_budget == Decimal("150.00")
    assert settings.pinned == ("SKU-1",)
    assert settings.excluded_categories == ()
