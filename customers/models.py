"""Loyalty customers and their purchase history."""

from __future__ import annotations

from django.conf import settings
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
            ),
            # The target of a transaction's foreign key (customer, retailer): see Transaction.
            models.UniqueConstraint(fields=["id", "retailer"], name="customer_unique_id_retailer"),
        ]

    def __str__(self) -> str:
        return self.external_id


class Transaction(RetailerOwned):
    """A basket: one visit of one customer, with its lines.

    In the database the customer and the retailer are ONE foreign key, ``(customer_id,
    retailer_id) -> customer (id, retailer_id)`` (``transaction_customer_same_retailer_fk``,
    added by migration ``0006``; Django 5.2 cannot declare a composite foreign key), so the
    two single-column keys below have no constraint of their own. It says more than they did
    (the customer is the retailer's own, and the retailer exists because the customer's does)
    with one per-row trigger check instead of two: the bulk loader writes 250,000 transactions
    per million lines and an ordinary role cannot switch those triggers off (see
    ``loyalty_site.bulk``). Django's ``on_delete`` rules still apply to ORM deletes.
    """

    retailer = models.ForeignKey(
        "retailers.Retailer",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    external_id = models.CharField("transaction id", max_length=64)
    # No index of its own: transaction_customer_time_idx starts with customer_id and serves the
    # same look-ups (and the check of a customer's deletion); one index less to maintain for
    # every transaction the bulk loader writes.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="transactions",
        db_index=False,
        db_constraint=False,
    )
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

    The table is partitioned by range of ``transaction_id`` (migration ``0007``): the lines of
    each big import are a partition of their own, the rest are in
    ``customers_transactionline_live`` (see ``customers.line_partitions``). In the database the
    primary key is therefore ``(transaction_id, id)`` (a partitioned table's keys must contain
    the partition key); ``id`` stays the model's key, unique by its sequence. Do not alter the
    ``id`` field in a migration without doing the same by hand on every partition.
    """

    # The retailer repeats the transaction's (tenant scoping without a join) and is always set
    # from it: by the bulk loader, and by ``RetailerOwned.clean()`` for ORM writes. So it needs
    # no database foreign key of its own: the line's transaction exists (foreign key, lines are
    # deleted with it) and the transaction's retailer exists (foreign key). Dropping it saves one
    # per-row trigger check per line, a third of a line's checks, when the loader cannot switch
    # the triggers off (see ``loyalty_site.bulk``). Django still cascades deletes to lines.
    retailer = models.ForeignKey(
        "retailers.Retailer",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
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
        # What the basket's admin page shows above each line: its position is what staff know
        # it by (the transaction's database id, from 10^12 up for big imports, says nothing).
        return f"line {self.line_no}"


#: Largest points balance (and movement) of a customer: half of PostgreSQL's ``integer``.
MAX_POINTS_BALANCE = 1_000_000_000


class PointsKind(models.TextChoices):
    """Why points moved."""

    EARNED = "earned", "Earned on a purchase"
    BONUS = "bonus", "Bonus"
    REDEEMED = "redeemed", "Redeemed"
    EXPIRED = "expired", "Expired"
    ADJUSTMENT = "adjustment", "Manual adjustment"
    CLAWBACK = "clawback", "Clawed back (returned purchase)"


class PointsEntry(RetailerOwned):
    """One append-only movement of a customer's points.

    Entries form a chain per customer: ``seq`` numbers them 1, 2, 3... (unique) and
    ``balance_after`` is the previous entry's balance plus ``points``, never negative. Two writers
    racing for the same customer collide on ``seq`` instead of both spending the same points, and
    the balance can always be re-derived as the sum of ``points``. Which earned points are spent or
    expire first (the oldest) is computed from the chain, not stored.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="points_entries")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=PointsKind.choices)
    points = models.IntegerField(help_text="Positive credits, negative debits.")
    balance_after = models.IntegerField()
    expires_on = models.DateField(
        null=True, blank=True, help_text="Credits only: the day the unspent rest expires."
    )
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    bonus = models.ForeignKey(
        "campaigns.Bonus", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer", "seq"]
        verbose_name_plural = "points entries"
        constraints = [
            models.UniqueConstraint(fields=["customer", "seq"], name="points_entry_chain"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="points_balance_never_negative"
            ),
            # Both columns are 32-bit integers on PostgreSQL: bounded well inside them, a
            # balance cannot overflow (the ledger refuses the movement first, see _append).
            models.CheckConstraint(
                condition=Q(balance_after__lte=MAX_POINTS_BALANCE)
                & Q(points__gte=-MAX_POINTS_BALANCE)
                & Q(points__lte=MAX_POINTS_BALANCE),
                name="points_bounded",
            ),
            models.UniqueConstraint(
                fields=["transaction", "kind"],
                condition=Q(kind__in=["earned", "clawback"]),
                name="points_once_per_transaction",
            ),
            models.UniqueConstraint(
                fields=["bonus"], condition=Q(kind="bonus"), name="points_once_per_bonus"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} #{self.seq}: {self.points:+d} ({self.kind})"


class PortalAccess(RetailerOwned):
    """A customer's secret link to their rewards page; only a hash of the secret is stored.

    Staff create and revoke links; a link also expires.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "portal link"

    def __str__(self) -> str:
        return f"portal link of {self.customer_id}"
