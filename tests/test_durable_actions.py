"""The outermost service of each user action opens a durable transaction (Zulip's ``do_*``
actions): nesting one inside another transaction by accident is an error, not a silent merge
of two actions into one commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from campaigns.services.promotions import (
    promotion_item_drop,
    promotion_proposal_approve,
    promotion_proposal_reject,
)
from campaigns.services.tokens import api_token_revoke
from campaigns.services.workflow import campaign_approve, campaign_close, campaign_reject
from customers.services.portal import portal_link_revoke
from customers.services.privacy import customer_anonymise
from customers.services.till import transaction_record
from optimizer.services.allocation import allocation_run_create
from optimizer.services.promotions import promotion_run_create
from optimizer.services.restart import run_restart
from optimizer.services.runs import scoring_run_create
from retailers.services import import_job_create, retailer_create

pytestmark = pytest.mark.django_db

ACTIONS = [
    campaign_approve,
    campaign_reject,
    campaign_close,
    promotion_proposal_approve,
    promotion_proposal_reject,
    promotion_item_drop,
    api_token_revoke,
    portal_link_revoke,
    customer_anonymise,
    transaction_record,
    scoring_run_create,
    allocation_run_create,
    promotion_run_create,
    run_restart,
    import_job_create,
    retailer_create,
]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.__name__)
def test_a_top_level_action_refuses_to_run_inside_another_transaction(action):
    # The durable block is entered before the action reads its arguments.
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        action()
