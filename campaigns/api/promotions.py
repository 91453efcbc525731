"""``GET /api/v1/promotions/current/``: the approved promotions the tills apply on a day.

The rows are the published ones (``campaigns.services.promotion_publish``), as in the CSV: one
query for the items with their products and proposals, whatever their number.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.api.views import ERRORS, PosApi
from campaigns.services.promotion_publish import promotion_row, promotions_current
from customers.services.points import retailer_today


class PromotionsCurrentInputSerializer(serializers.Serializer):
    date = serializers.DateField(
        required=False, help_text="Day in the retailer's time zone (default: today)."
    )


class PromotionOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    product = serializers.CharField()
    scope = serializers.CharField(help_text='"chain": every store applies it.')
    store = serializers.CharField(allow_null=True, help_text="Store id when not chain-wide.")
    regular_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    promoted_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount_rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    valid_from = serializers.DateField()
    valid_to = serializers.DateField()


class PromotionsCurrentOutputSerializer(serializers.Serializer):
    date = serializers.DateField()
    promotions = PromotionOutputSerializer(many=True)


class PromotionsCurrentApi(PosApi):
    """The retailer's approved promotions in force on ``date`` (default: today)."""

    @extend_schema(
        parameters=[PromotionsCurrentInputSerializer],
        responses={200: PromotionsCurrentOutputSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = PromotionsCurrentInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        day = params.validated_data.get("date") or retailer_today(self.retailer)
        items = promotions_current(retailer_id=self.retailer.pk, today=day)
        body: dict[str, Any] = {"date": day, "promotions": [promotion_row(i) for i in items]}
        return Response(PromotionsCurrentOutputSerializer(body).data)
