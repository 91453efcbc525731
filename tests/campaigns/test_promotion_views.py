"""Weekly promotion proposals: the state machine (approve, reject, four eyes, drop, audit) and
the staff pages per role, with another retailer's rows as 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.exceptions import ApprovalForbidden, TransitionNotAllowed
from campaigns.models import PromotionItem, PromotionProposal, ProposalState
from campaigns.services.audit import audit_entries_for
from campaigns.services.promotions import (
    promotion_item_drop,
    promotion_proposal_approve,
    promotion_proposal_reject,
    proposal_totals,
)
from optimizer.models import PromotionRun
from retailers.models import Role, RunStatus
from tests.retailers.factories import ProductFactory

pytestmark = pytest.mark.django_db

WEEK = dt.date(2025, 6, 2)


def make_proposal(retailer, *, creator=None, products: int = 3) -> PromotionProposal:
    """A proposed week with ``products`` items, from a succeeded run started by ``creator``."""
    run = PromotionRun.objects.create(
        retailer=retailer,
        week_start=WEEK,
        status=RunStatus.SUCCEEDED,
        created_by=creator,
        options={"k": 5},
    )
    proposal = PromotionProposal.objects.create(
        retailer=retailer,
        promotion_run=run,
        week_start=WEEK,
        created_by=creator,
        options={"k": 5, "max_per_category": 3, "recent_weeks": 4, "pinned": [], "banned": []},
        solver={"solver": "HiGHS", "status": "Optimal", "objective": 12.5},
        backtest={"run_id": 9, "model_wape": 0.41, "model_bias": 0.05, "naive_wape": 0.62},
    )
    for rank in range(1, products + 1):
        PromotionItem.objects.create(
            retailer=retailer,
            proposal=proposal,
            product=ProductFactory(retailer=retailer, sku=f"{retailer.slug}-{rank}"),
            rank=rank,
            discount_rate=Decimal("0.2000"),
            baseline_units=Decimal("10.00"),
            promoted_units=Decimal("25.00"),
            lift=Decimal("2.500"),
            incremental_units=Decimal("15.00"),
            incremental_revenue=Decimal("30.00"),
            incremental_margin=Decimal(f"{rank}.00"),
            discount_cost=Decimal("5.00"),
            on_hand=100,
            stock_cover=Decimal("4.00"),
            competitor_gap=Decimal("-0.0500"),
            reach=7,
            reason=f"reason {rank}",
        )
    proposal.totals = proposal_totals(proposal.items.all())
    proposal.save(update_fields=["totals"])
    return proposal


# --- State machine -----------------------------------------------------------------------------
def test_approve_is_audited_and_safe_to_repeat(retailer, make_staff):
    approver = make_staff(retailer, Role.APPROVER)
    proposal = make_proposal(retailer, creator=make_staff(retailer, Role.ANALYST))
    for _ in range(2):
        promotion_proposal_approve(proposal_id=proposal.pk, actor=approver, comment="ok")
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED
    assert (proposal.decided_by, proposal.decision_comment) == (approver, "ok")
    entries = list(audit_entries_for(proposal))
    assert [(e.action, e.from_state, e.to_state) for e in entries] == [
        ("approve", "proposed", "approved")
    ]
    assert entries[0].actor == approver
    with pytest.raises(TransitionNotAllowed):
        promotion_proposal_reject(proposal_id=proposal.pk, actor=approver, comment="no")


def test_reject_needs_an_approver_and_is_safe_to_repeat(retailer, make_staff):
    proposal = make_proposal(retailer)
    with pytest.raises(ApprovalForbidden):
        promotion_proposal_reject(
            proposal_id=proposal.pk, actor=make_staff(retailer, Role.ANALYST), comment="no"
        )
    approver = make_staff(retailer, Role.APPROVER)
    for _ in range(2):
        promotion_proposal_reject(proposal_id=proposal.pk, actor=approver, comment="too deep")
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.REJECTED
    assert [e.action for e in audit_entries_for(proposal)] == ["reject"]
    with pytest.raises(TransitionNotAllowed):
        promotion_proposal_approve(proposal_id=proposal.pk, actor=approver)


def test_four_eyes_forbid_the_runs_creator_but_not_another_approver(retailer, make_staff):
    retailer.four_eyes = True
    retailer.save(update_fields=["four_eyes"])
    starter, other = make_staff(retailer, Role.APPROVER), make_staff(retailer, Role.APPROVER)
    proposal = make_proposal(retailer, creator=starter)
    with pytest.raises(ApprovalForbidden, match="Four-eyes"):
        promotion_proposal_approve(proposal_id=proposal.pk, actor=starter)
    promotion_proposal_approve(proposal_id=proposal.pk, actor=other)
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED


def test_four_eyes_off_lets_the_creator_approve(retailer, make_staff):
    starter = make_staff(retailer, Role.APPROVER)
    proposal = make_proposal(retailer, creator=starter)
    promotion_proposal_approve(proposal_id=proposal.pk, actor=starter)
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED


def test_dropping_an_item_reranks_recomputes_totals_and_is_audited(retailer, make_staff):
    approver = make_staff(retailer, Role.APPROVER)
    proposal = make_proposal(retailer)
    first = proposal.items.get(rank=1)
    for _ in range(2):
        promotion_item_drop(proposal_id=proposal.pk, item_id=first.pk, actor=approver)
    proposal.refresh_from_db()
    assert [i.rank for i in proposal.items.order_by("rank")] == [1, 2]
    assert proposal.totals["items"] == 2
    assert proposal.totals["incremental_margin"] == "5.00"  # 2.00 + 3.00
    entry = audit_entries_for(proposal).get()
    assert entry.action == "drop_item"
    assert entry.data["dropped"]["sku"] == first.product.sku
    promotion_proposal_approve(proposal_id=proposal.pk, actor=approver)
    with pytest.raises(TransitionNotAllowed):
        promotion_item_drop(
            proposal_id=proposal.pk, item_id=proposal.items.first().pk, actor=approver
        )


# --- Pages -------------------------------------------------------------------------------------
def login(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST, Role.APPROVER])
def test_every_role_reads_the_list_and_the_proposal(client, retailer, make_staff, role):
    proposal = make_proposal(retailer)
    login(client, make_staff(retailer, role))
    listing = client.get(reverse("campaigns:promotion-list"))
    assert listing.status_code == 200
    assert str(WEEK) in listing.content.decode()
    page = client.get(reverse("campaigns:promotion-detail", args=[proposal.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    for text in (
        "reason 1",
        "HiGHS",
        "Optimal",
        "0.410",
        "0.620",
        "Audit log",
        "2.5\u00d7 baseline",
    ):
        assert text in body
    assert ("Approve" in body) == (role == Role.APPROVER)
    assert ("Propose a week" in listing.content.decode()) == (role != Role.VIEWER)


def test_viewers_get_403_on_every_post(client, retailer, make_staff):
    proposal = make_proposal(retailer)
    item = proposal.items.first()
    login(client, make_staff(retailer, Role.VIEWER))
    urls = [
        reverse("campaigns:promotion-start"),
        reverse("campaigns:promotion-backtest"),
        reverse("campaigns:promotion-decide", args=[proposal.pk]),
        reverse("campaigns:promotion-item-drop", args=[proposal.pk, item.pk]),
    ]
    for url in urls:
        assert client.post(url, {"action": "approve", "k": 5}).status_code == 403, url
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PROPOSED
    assert proposal.items.count() == 3


def test_analysts_cannot_decide(client, retailer, make_staff):
    proposal = make_proposal(retailer)
    login(client, make_staff(retailer, Role.ANALYST))
    url = reverse("campaigns:promotion-decide", args=[proposal.pk])
    assert client.post(url, {"action": "approve"}).status_code == 403


def test_other_retailers_proposals_and_runs_are_404(client, retailer, other_retailer, make_staff):
    theirs = make_proposal(other_retailer)
    login(client, make_staff(retailer, Role.ADMIN))
    item = theirs.items.first()
    gets = [
        reverse("campaigns:promotion-detail", args=[theirs.pk]),
        reverse("campaigns:promotion-run-detail", args=[theirs.promotion_run_id]),
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [
        reverse("campaigns:promotion-decide", args=[theirs.pk]),
        reverse("campaigns:promotion-item-drop", args=[theirs.pk, item.pk]),
    ]
    for url in posts:
        assert client.post(url, {"action": "approve"}).status_code == 404, url
    theirs.refresh_from_db()
    assert theirs.state == ProposalState.PROPOSED
    assert str(WEEK) not in client.get(reverse("campaigns:promotion-list")).content.decode()


def test_approver_approves_and_rejection_needs_a_comment(client, retailer, make_staff):
    proposal = make_proposal(retailer)
    login(client, make_staff(retailer, Role.APPROVER))
    url = reverse("campaigns:promotion-decide", args=[proposal.pk])
    response = client.post(url, {"action": "reject", "comment": ""}, follow=True)
    assert "Say why" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PROPOSED
    client.post(url, {"action": "approve", "comment": "go"})
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED
    page = client.get(reverse("campaigns:promotion-detail", args=[proposal.pk])).content.decode()
    assert "approve" in page
    assert "go" in page


def test_four_eyes_on_the_page(client, retailer, make_staff):
    retailer.four_eyes = True
    retailer.save(update_fields=["four_eyes"])
    starter = make_staff(retailer, Role.APPROVER)
    proposal = make_proposal(retailer, creator=starter)
    login(client, starter)
    page = client.get(reverse("campaigns:promotion-detail", args=[proposal.pk])).content.decode()
    assert "another approver must decide" in page
    response = client.post(
        reverse("campaigns:promotion-decide", args=[proposal.pk]),
        {"action": "approve"},
        follow=True,
    )
    assert "Four-eyes" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PROPOSED


def test_approver_drops_an_item_on_the_page(client, retailer, make_staff):
    proposal = make_proposal(retailer)
    item = proposal.items.get(rank=2)
    login(client, make_staff(retailer, Role.APPROVER))
    client.post(reverse("campaigns:promotion-item-drop", args=[proposal.pk, item.pk]))
    assert not proposal.items.filter(pk=item.pk).exists()
    assert audit_entries_for(proposal).get().action == "drop_item"


def test_analyst_starts_a_proposal_from_the_form(client, retailer, make_staff, monkeypatch):
    queued = []
    monkeypatch.setattr("retailers.lifecycle.async_task", lambda *a, **k: queued.append((a, k)))
    product = ProductFactory(retailer=retailer, sku="PIN-1")
    analyst = make_staff(retailer, Role.ANALYST)
    login(client, analyst)
    assert client.get(reverse("campaigns:promotion-start")).status_code == 200
    data = {
        "week": "2025-W23",
        "k": 4,
        "max_per_category": "",
        "discount_budget": "150",
        "recent_weeks": 2,
        "pinned": "PIN-1",
        "banned": "",
    }
    response = client.post(reverse("campaigns:promotion-start"), data)
    run = PromotionRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:promotion-run-detail", args=[run.pk])
    assert (run.week_start, run.created_by, run.trigger) == (WEEK, analyst, "manual")
    assert run.options["k"] == 4
    assert run.options["max_per_category"] is None
    assert run.options["discount_budget"] == "150.00"
    assert run.options["pinned"] == [product.sku]
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Queued" in page.content.decode()


def test_start_form_shows_unknown_skus_and_bad_weeks(client, retailer, make_staff):
    login(client, make_staff(retailer, Role.ANALYST))
    data = {"week": "2025-W99", "k": 4, "recent_weeks": 2, "pinned": "NOPE"}
    body = client.post(reverse("campaigns:promotion-start"), data).content.decode()
    assert "is not an ISO week" in body
    data["week"] = "2025-W23"
    body = client.post(reverse("campaigns:promotion-start"), data).content.decode()
    assert "Unknown SKU(s)" in body
    assert "NOPE" in body
    assert not PromotionRun.objects.exists()


def test_admin_shows_proposals_with_their_items_read_only(client, retailer, make_staff):
    proposal = make_proposal(retailer)
    login(client, make_staff(retailer, Role.ADMIN))
    listing = client.get(reverse("admin:campaigns_promotionproposal_changelist"))
    assert listing.status_code == 200
    page = client.get(reverse("admin:campaigns_promotionproposal_change", args=[proposal.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "reason 2" in body
    assert 'name="_save"' not in body


def test_a_proposal_shows_a_backtest_run_after_it(client, retailer, make_staff):
    proposal = make_proposal(retailer)
    proposal.backtest = {}
    proposal.save(update_fields=["backtest"])
    login(client, make_staff(retailer, Role.VIEWER))
    detail = reverse("campaigns:promotion-detail", args=[proposal.pk])
    assert "No backtest yet" in client.get(detail).content.decode()
    PromotionRun.objects.create(
        retailer=retailer,
        kind=PromotionRun.Kind.BACKTEST,
        week_start=WEEK,
        status=RunStatus.SUCCEEDED,
        result={"model_wape": 0.333, "model_bias": 0.01, "naive_wape": 0.5, "n_weeks": 4},
    )
    body = client.get(detail).content.decode()
    assert "No backtest yet" not in body
    assert "0.333" in body
