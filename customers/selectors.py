"""Reads of the customers app for the staff pages: a retailer's member count and a customer's
baskets. Customers with their scores are read in ``optimizer.customer_scores`` (scores are the
optimizer's stored results, and optimizer sits above customers in the layers contract).
"""

from __future__ import annotations

from django.db.models import Count, QuerySet, Sum

from customers.models import Customer, Transaction
from retailers.models import Retailer


def customer_count(*, retailer: Retailer) -> int:
    """Loyalty members of ``retailer``."""
    return Customer.objects.for_retailer(retailer).count()


def customer_transactions(*, customer: Customer) -> QuerySet[Transaction]:
    """The customer's baskets, most recent first, with ``total`` (amount paid), ``discount``
    and ``items`` (lines) and their store."""
    return (
        Transaction.objects.for_retailer(customer.retailer_id)
        .filter(customer=customer)
        .select_related("store")
        .annotate(total=Sum("lines__amount"), discount=Sum("lines__discount"), items=Count("lines"))
        .order_by("-timestamp", "-pk")
    )
