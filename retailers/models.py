"""The tenant (`Retailer`), staff membership and roles, and the retailer's product-side data."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from loyalty_site.money import MONEY_FIELD
from retailers.runs import BackgroundRun, RunStatus
from retailers.setting_checks import retailer_setting_errors
from retailers.tenancy import RetailerOwned

__all__ = ["RunStatus"]  # re-exported: the lifecycle's statuses, long imported from here


def validate_time_zone(value: str) -> None:
    """Reject anything that is not an IANA time zone name."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not a known time zone.") from exc


#: Upper bound of a retailer's points-per-basket limit (a balance is bounded by ten times it).
MAX_POINTS_PER_BASKET = 100_000_000

currency_validator = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. EUR.")
slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]*$", "Use lowercase letters, digits and dashes."
)


class Weekday(models.IntegerChoices):
    """Days of the week as ``date.weekday()`` numbers them."""

    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Locale(models.TextChoices):
    """How numbers, money and dates are written on the retailer's staff pages (Django's format
    localisation: thousand and decimal separators, date order). The pages' words stay English."""

    EN_US = "en-us", "English (United States): 1,230.50"
    EN_GB = "en-gb", "English (United Kingdom): 1,230.50"
    DE = "de", "Deutsch: 1.230,50"
    FR = "fr", "Français: 1 230,50"
    NL = "nl", "Nederlands: 1.230,50"
    ES = "es", "Español: 1.230,50"
    IT = "it", "Italiano: 1.230,50"
    FI = "fi", "Suomi: 1 230,50"
    SV = "sv", "Svenska: 1 230,50"
    DA = "da", "Dansk: 1.230,50"
    PL = "pl", "Polski: 1 230,50"


class Retailer(models.Model):
    """A retail chain: the tenant that owns every other row."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_validator])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    locale = models.CharField(
        max_length=7,
        choices=Locale.choices,
        default=Locale.EN_US,
        help_text="How numbers, money and dates are written on the staff pages.",
    )
    is_demo = models.BooleanField(
        default=False, help_text="Created by load_demo or generate_retailer."
    )
    # Business settings used by allocation, rewards and promotions.
    gross_margin_rate = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.300"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Share of incremental revenue kept as margin (products without a unit cost).",
    )
    points_per_currency_unit = models.DecimalField(
        "points earned per currency unit",
        max_digits=6,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(0)],
        help_text="Earning rule: points per whole currency unit spent (rounded down).",
    )
    point_value = models.DecimalField(
        "liability per point",
        max_digits=8,
        decimal_places=4,
        default=Decimal("0.0100"),
        validators=[MinValueValidator(0)],
        help_text="What one point costs the retailer when spent.",
    )
    points_validity_days = models.PositiveIntegerField(
        default=365, validators=[MinValueValidator(1)], help_text="Earned points expire after."
    )
    four_eyes = models.BooleanField(
        "four-eyes approval",
        default=False,
        help_text="A proposal must be approved by someone other than the person who started it.",
    )
    contact_limit = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1)], help_text="At most N bonuses per customer..."
    )
    contact_window_weeks = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1)], help_text="...in this many weeks."
    )
    # The retailer's rules on every allocation (optimizer.engine.coupling_rules), checked by
    # the optimizer's parser through retailers.setting_checks (clean).
    allocation_rules = models.JSONField(
        "allocation coupling rules",
        default=list,
        blank=True,
        help_text=(
            "Limits on the bonuses of a group of customers, a JSON list; each rule has "
            '"attribute" (store, region, segment or channel), "value" (the store id, region, '
            'segment, or email / till), "limit", and optionally "sense" (cap or minimum; '
            'default cap), "measure" (count or cost; default count), "bonus_types" (a list of '
            'codes; default all) and "name". Example: [{"name": "store 12 free coffee", '
            '"attribute": "store", "value": "12", "bonus_types": ["free_coffee"], "limit": '
            "150}]. A customer's store is the one they visited most in the 52 weeks before "
            "the scores, its region that store's; channel email means the offer e-mail "
            "reaches them (consent and an address), till the others. New allocations start "
            "with these rules."
        ),
    )
    gap_tolerance = models.DecimalField(
        "allocation gap tolerance",
        max_digits=7,
        decimal_places=6,
        default=Decimal("0.000100"),
        validators=[MinValueValidator(Decimal("0.000001")), MaxValueValidator(Decimal("0.2"))],
        help_text=(
            "How far below the best possible value (relative: 0.0001 = 0.01 %) a proposal may "
            "be and still count as solved; above it the campaign page warns and approval "
            "asks for an explicit confirmation."
        ),
    )
    week_start_day = models.PositiveSmallIntegerField(
        choices=Weekday.choices,
        default=Weekday.MONDAY,
        help_text="Day a campaign week starts on, in the retailer's time zone.",
    )
    promotion_weekday = models.PositiveSmallIntegerField(
        default=3,
        validators=[MaxValueValidator(6)],
        help_text="Day the weekly promotion proposal is made (0 = Monday), retailer's time.",
    )
    promotion_hour = models.PositiveSmallIntegerField(
        default=6, validators=[MaxValueValidator(23)], help_text="Hour of that day."
    )
    # Bounds of what a till may record (customers.services.till_limits): a basket outside them
    # is refused with a 400 naming the field, so a typo or a broken till cannot credit a
    # fortune in points or date a purchase decades away.
    till_max_line_amount = models.DecimalField(
        "maximum line amount",
        max_digits=12,
        decimal_places=2,
        default=Decimal("10000.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Largest amount of one basket line (returns: in absolute value).",
    )
    till_max_basket_total = models.DecimalField(
        "maximum basket total",
        max_digits=12,
        decimal_places=2,
        default=Decimal("25000.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Largest total of one basket (returns: in absolute value).",
    )
    till_max_points_per_basket = models.PositiveIntegerField(
        "maximum points per basket",
        default=25_000,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_POINTS_PER_BASKET)],
        help_text="Most points one basket may earn (or claw back).",
    )
    till_max_age_days = models.PositiveSmallIntegerField(
        "oldest purchase accepted (days)",
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3660)],
        help_text="A till may send a purchase at most this many days after it happened.",
    )
    till_max_future_minutes = models.PositiveSmallIntegerField(
        "latest purchase accepted (minutes ahead)",
        default=10,
        validators=[MaxValueValidator(1440)],
        help_text="How far ahead of the server's clock a till's clock may run.",
    )
    # Set by load_demo: the demo's dates are moved into the present by whole weeks.
    demo_shift_weeks = models.IntegerField(
        null=True,
        blank=True,
        help_text="load_demo moved every date of the demo data by this many weeks.",
    )
    demo_source_end = models.DateField(
        null=True, blank=True, help_text="Last day of the demo's original data, before the shift."
    )
    excluded_categories = models.TextField(
        blank=True,
        default="",
        help_text=(
            "Product categories never promoted, one per line (non-merchandise such as gift "
            "cards, phone cards, film processing); compared without regard to case."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = retailer_setting_errors({"allocation_rules": self.allocation_rules})
        if errors:
            raise ValidationError(errors)

    @property
    def excluded_category_list(self) -> list[str]:
        """:attr:`excluded_categories` as a sorted list of non-blank lines."""
        return sorted({line.strip() for line in self.excluded_categories.splitlines()} - {""})

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The retailer's time zone; business dates and weeks are computed in it."""
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def demo_end(self) -> dt.date | None:
        """Last day of the demo data as loaded (its original last day, shifted)."""
        if self.demo_source_end is None or self.demo_shift_weeks is None:
            return None
        return self.demo_source_end + dt.timedelta(weeks=self.demo_shift_weeks)


class Role(models.TextChoices):
    """Staff roles, from least to most powerful; each includes the ones before it."""

    VIEWER = "viewer", "Viewer"
    ANALYST = "analyst", "Analyst"
    APPROVER = "approver", "Approver"
    ADMIN = "admin", "Admin"

    @classmethod
    def rank(cls, role: str) -> int:
        """Position of ``role`` in the hierarchy (viewer 0 ... admin 3)."""
        return list(cls.values).index(role)


class Membership(models.Model):
    """A staff user's role at one retailer. A user may belong to several retailers."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    retailer = models.ForeignKey(Retailer, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "retailer"], name="membership_unique_user_retailer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.retailer} ({self.role})"

    def has_role(self, minimum: str) -> bool:
        """True when this membership's role is ``minimum`` or more powerful."""
        return Role.rank(self.role) >= Role.rank(minimum)


class Store(RetailerOwned):
    """A physical or online store of the retailer."""

    external_id = models.CharField("store id", max_length=64)
    name = models.CharField(max_length=200, blank=True)
    region = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["retailer", "external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "external_id"], name="store_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


class Product(RetailerOwned):
    """A product (SKU) the retailer sells."""

    sku = models.CharField("SKU", max_length=64)
    name = models.CharField(max_length=300, blank=True)
    category = models.CharField(max_length=200, blank=True, db_index=False)
    brand = models.CharField(max_length=200, blank=True)
    unit_cost = models.DecimalField(**MONEY_FIELD, validators=[MinValueValidator(0)])
    price = models.DecimalField("regular price", **MONEY_FIELD, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["retailer", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "sku"], name="product_unique_sku"),
            models.CheckConstraint(
                condition=Q(unit_cost__gte=0) & Q(price__gte=0), name="product_non_negative_money"
            ),
        ]
        indexes = [models.Index(fields=["retailer", "category"], name="product_category_idx")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}".strip()


class InventoryLevel(RetailerOwned):
    """Units on hand of a product at a store (or the whole chain when ``store`` is empty)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="inventory")
    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="inventory",
        help_text="Empty means the whole chain.",
    )
    date = models.DateField()
    on_hand = models.IntegerField(validators=[MinValueValidator(0)])
    is_synthetic = models.BooleanField(
        default=False, help_text="Derived by a generator (demo data), not measured."
    )

    class Meta:
        ordering = ["retailer", "product", "date"]
        constraints = [
            # Two partial constraints because NULL store ids never collide in a plain unique index.
            models.UniqueConstraint(
                fields=["retailer", "product", "store", "date"],
                condition=Q(store__isnull=False),
                name="inventory_unique_store_day",
            ),
            models.UniqueConstraint(
                fields=["retailer", "product", "date"],
                condition=Q(store__isnull=True),
                name="inventory_unique_chain_day",
            ),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="inventory_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product} @ {self.store or 'chain'} on {self.date}: {self.on_hand}"


class CompetitorPrice(RetailerOwned):
    """A competitor's observed shelf price for one of the retailer's products."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="competitor_prices")
    competitor = models.CharField(max_length=100)
    date = models.DateField()
    price = models.DecimalField(**MONEY_FIELD, validators=[MinValueValidator(0)])
    is_synthetic = models.BooleanField(
        default=False, help_text="Derived by a generator (demo data), not observed."
    )

    class Meta:
        ordering = ["retailer", "product", "competitor", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "product", "competitor", "date"],
                name="competitor_price_unique_day",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="competitor_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.competitor}: {self.product} {self.price} on {self.date}"


class PromotionHistory(RetailerOwned):
    """How widely a product was promoted in one week (display and mailer), summed over stores.

    History for the promotion-lift model. The demo loader aggregates Complete Journey's
    per-store rows into one row per product and week.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="promotion_history")
    week_start = models.DateField(help_text="Monday of the promoted week.")
    display_stores = models.PositiveIntegerField(default=0)
    mailer_stores = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["retailer", "product", "week_start"]
        verbose_name_plural = "promotion history"
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "product", "week_start"], name="promotion_history_unique_week"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} week of {self.week_start}"


class ImportKind(models.TextChoices):
    """The CSV files of the public import contract (see README, docs/samples/)."""

    STORES = "stores", "Stores"
    PRODUCTS = "products", "Products"
    CUSTOMERS = "customers", "Customers"
    TRANSACTIONS = "transactions", "Transactions"
    INVENTORY = "inventory", "Inventory"
    COMPETITOR_PRICES = "competitor_prices", "Competitor prices"
    OFFERS = "offers", "Past offers"


class CsvJob(BackgroundRun):
    """A background run over the rows of one contract CSV file (an import or an export)."""

    kind = models.CharField(max_length=32, choices=ImportKind.choices)
    options = models.JSONField(default=dict, blank=True)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)

    class Meta(BackgroundRun.Meta):
        abstract = True

    @property
    def progress_percent(self) -> int:
        """Share of rows done, 0-100 (0 while the row count is unknown)."""
        if not self.total_rows:
            return 100 if self.status == RunStatus.SUCCEEDED else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class ImportJob(CsvJob):
    """A CSV file imported in the background (large admin uploads), with progress and errors."""

    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="Counts of rows written.")
    errors = models.JSONField(
        default=list, blank=True, help_text="[{row, column, message}] when the file was rejected."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["retailer", "-created_at"], name="import_job_recent_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import #{self.pk} ({self.status})"


class RateCounter(models.Model):
    """A fixed-window hit counter of :mod:`loyalty_site.rate_limit`'s database store (the
    default), shared by every web process. That module writes the table with raw SQL (one atomic
    upsert per hit): it sits below the apps and imports none of them."""

    name = models.CharField(max_length=255, primary_key=True)
    hits = models.IntegerField()
    window_end = models.FloatField(db_index=True, help_text="Epoch seconds.")

    class Meta:
        db_table = "loyalty_rate_counter"

    def __str__(self) -> str:
        return f"{self.name}: {self.hits}"


class ExportJob(CsvJob):
    """A large admin export written in the background, downloaded from its page when ready.

    A :class:`BackgroundRun` like :class:`ImportJob` (one lifecycle: ``retailers.lifecycle``):
    ``options`` records what the admin's Export was asked for (the admin and its list filters),
    ``file`` the finished CSV under ``MEDIA_ROOT``, which staff of the retailer may download until
    ``expires_at``.
    """

    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="The file is deleted after this (daily schedule)."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["retailer", "-created_at"], name="export_job_recent_idx"),
            models.Index(fields=["expires_at"], name="export_job_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} export #{self.pk} ({self.status})"

    def is_downloadable(self, now: dt.datetime) -> bool:
        """Whether the finished file is there and has not expired at ``now``."""
        return (
            self.status == RunStatus.SUCCEEDED
            and bool(self.file)
            and self.expires_at is not None
            and now < self.expires_at
        )

    @property
    def filename(self) -> str:
        """The name the download is saved under (``transactions.csv``, as the admin's Export)."""
        return f"{self.kind}.csv"


# The webhook models live in their own module; importing them here registers them with the app.
from retailers.webhook_models import (  # noqa: E402
    DeliveryStatus,
    OutboxEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)

__all__ = [
    "DeliveryStatus",
    "OutboxEvent",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEventType",
]
