"""Loyalty customers and their purchase history."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from loyalty_site.money import MONEY_FIELD
from retailers.tenancy import RetailerOwned


class Customer(RetailerOwned):
    """A loyalty-programme member of one retailer."""

    external_id = models.CharField("customer id", max_length=64)
    enrolled_on = models.DateField(help_text="Date the customer joined the loyalty programme.")
    age_band = models.CharField(max_length=32, blank=True)
    income_band = models.CharField(max_length=32, blank=True)
    household_size = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    email = models.EmailField(blank=True)
    marketing_consent = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["retailer", "external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "external_id"], name="customer_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.external_id


class Transaction(RetailerOwned):
    """A basket: one visit of one customer, with its lines."""

    external_id = models.CharField("transaction id", max_length=64)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="transactions")
    store = models.ForeignKey(
        "retailers.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
    )
    timestamp = models.DateTimeField()

    class Meta:
        ordering = ["retailer", "timestamp"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "external_id"], name="transaction_unique_external_id"
            )
        ]
        indexes = [
            # Scoring reads a customer's history in time order, and time windows per retailer.
            models.Index(fields=["customer", "timestamp"], name="transaction_customer_time_idx"),
            models.Index(fields=["retailer", "timestamp"], name="transaction_retailer_time_idx"),
        ]

    def __str__(self) -> str:
        return self.external_id


class TransactionLine(RetailerOwned):
    """One product line of a basket.

    ``amount`` is what the customer paid for the line (after discounts); ``discount`` is the
    reduction granted on it, so the line's regular value is ``amount + discount``. A return has a
    negative quantity and a negative amount.
    """

    transaction = models.ForeignKey(
        Transaction, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    line_no = models.PositiveIntegerField(help_text="Position of the line within its basket.")
    product = models.ForeignKey("retailers.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    amount = models.DecimalField(**MONEY_FIELD)
    discount = models.DecimalField(**MONEY_FIELD)

    class Meta:
        ordering = ["transaction", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "line_no"], name="line_unique_position"),
            models.CheckConstraint(
                condition=(Q(quantity__gte=0) & Q(amount__gte=0))
                | (Q(quantity__lte=0) & Q(amount__lte=0)),
                name="line_quantity_amount_same_sign",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id}#{self.line_no}"
