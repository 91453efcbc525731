"""Input and output serializers of the POS API. Money is a decimal string, points are integers."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from campaigns.models import Bonus, Campaign
from loyalty_site.api_fields import AwareDateTimeField, BoundedDateField, MoneyField, QuantityField

MAX_LINES = 500


class BonusOutputSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="bonus_type.kind")
    bonus_type = serializers.CharField(source="bonus_type.code")
    name = serializers.CharField(source="bonus_type.name")

    class Meta:
        model = Bonus
        fields = (
            "code",
            "bonus_type",
            "name",
            "kind",
            "value",
            "points",
            "valid_from",
            "valid_to",
            "state",
            "uses",
            "max_uses",
        )


class NextExpirySerializer(serializers.Serializer):
    date = serializers.DateField()
    points = serializers.IntegerField()


class PointsOutputSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    next_expiry = NextExpirySerializer(allow_null=True)


class CustomerOutputSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    points = PointsOutputSerializer()
    bonuses = BonusOutputSerializer(many=True)


class TransactionLineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = QuantityField()
    amount = MoneyField(help_text="Paid for the line, after the discount; negative for a return.")
    discount = MoneyField(
        required=False,
        default=Decimal("0.00"),
        help_text="Granted on the line: same sign as the line, at most the amount.",
    )

    def validate(self, attrs: dict) -> dict:
        quantity, amount, discount = attrs["quantity"], attrs["amount"], attrs["discount"]
        if (quantity < 0 < amount) or (amount < 0 < quantity):
            raise serializers.ValidationError("quantity and amount must have the same sign.")
        line_sign = -1 if amount < 0 or quantity < 0 else 1
        if discount * line_sign < 0:
            raise serializers.ValidationError(
                {"discount": ["A discount has the sign of its line (0 or more on a sale)."]}
            )
        if abs(discount) > abs(amount):
            raise serializers.ValidationError(
                {"discount": ["The discount cannot be larger than the line's amount."]}
            )
        return attrs


class TransactionInputSerializer(serializers.Serializer):
    transaction_id = serializers.CharField(max_length=64)
    customer_id = serializers.CharField(max_length=64)
    store_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    timestamp = AwareDateTimeField()
    # many=True hands max_length to the ListSerializer; djangorestframework-stubs 3.18.1 omit it.
    lines = TransactionLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]


class TransactionOutputSerializer(serializers.Serializer):
    transaction_id = serializers.CharField()
    customer_id = serializers.CharField()
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    points = serializers.IntegerField(help_text="Earned (positive) or clawed back (negative).")
    balance = serializers.IntegerField()
    created = serializers.BooleanField(help_text="False when the transaction was already known.")


class BasketLineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = QuantityField(required=False, help_text="Default 1.")


class RedemptionInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    basket_amount = MoneyField(required=False, allow_null=True, min_value=Decimal("0"))
    store_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    # many=True hands max_length to the ListSerializer; djangorestframework-stubs 3.18.1 omit it.
    lines = BasketLineInputSerializer(  # type: ignore[call-arg]
        many=True,
        required=False,
        max_length=MAX_LINES,
        help_text="The basket's lines. A product offer (kind product_offer) is redeemed only "
        "when a line carries its product's SKU; other bonuses ignore the lines.",
    )


class RedemptionOutputSerializer(serializers.Serializer):
    redemption_id = serializers.IntegerField()
    code = serializers.CharField()
    customer_id = serializers.CharField()
    kind = serializers.CharField()
    value = serializers.DecimalField(max_digits=12, decimal_places=2)
    use_no = serializers.IntegerField()
    uses_left = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=12, decimal_places=2)
    redeemed_at = serializers.DateTimeField()


class PointsRedeemInputSerializer(serializers.Serializer):
    customer_id = serializers.CharField(max_length=64)
    points = serializers.IntegerField(min_value=1, max_value=10_000_000)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class PointsRedeemOutputSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    points = serializers.IntegerField()
    balance = serializers.IntegerField()
    seq = serializers.IntegerField()


class CampaignListOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields: tuple[str, ...] = (
            "id",
            "name",
            "state",
            "week_start",
            "week_end",
            "budget",
            "spend_limit",
            "spent",
            "issued_at",
            "closed_at",
        )


class CampaignDetailOutputSerializer(CampaignListOutputSerializer):
    class Meta(CampaignListOutputSerializer.Meta):
        fields = (*CampaignListOutputSerializer.Meta.fields, "totals", "breakdown", "results")


class ScoringRunInputSerializer(serializers.Serializer):
    as_of = BoundedDateField(required=False, help_text="Default: day after the last purchase.")
    horizon_weeks = serializers.IntegerField(min_value=1, max_value=52, default=8)


class ScoringRunOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    as_of = serializers.DateField()
    horizon_weeks = serializers.IntegerField()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    # The metaclass moves declared fields off the class, so this does not shadow
    # Serializer.fields at run time; the stubs cannot see that.
    fields = serializers.DictField(required=False)  # type: ignore[assignment]


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
