"""POS API views: thin adapters that parse input, call one service and render the answer.

Every queryset is scoped with ``for_retailer(request.auth.retailer)``: a till sees only its own
retailer's customers, bonuses and campaigns, and anything else is a 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.api import serializers as s
from campaigns.api.authentication import ApiTokenAuthentication, HasApiToken
from campaigns.api.idempotency import HEADER, idempotent
from campaigns.api.queries import customer_snapshot
from campaigns.api.throttles import TokenScopedThrottle
from campaigns.models import ApiToken, Campaign
from campaigns.services.redemption import bonus_redeem
from customers.models import Customer
from customers.services.points import points_redeem, retailer_today
from customers.services.till import transaction_record
from loyalty_site.api_parsers import BoundedJSONParser
from retailers.models import Retailer, Store

IDEMPOTENCY_PARAM = OpenApiParameter(
    HEADER, str, OpenApiParameter.HEADER, required=True, description="Unique per intended effect."
)
#: Renders datetimes as every serializer does (ISO 8601 in the site's time zone).
_DATETIME = serializers.DateTimeField()
ERRORS = {code: s.ErrorSerializer for code in (400, 401, 404, 409, 413, 422, 429, 503)}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class JsonOnly(DefaultContentNegotiation):
    """The POS API answers JSON whatever the ``Accept`` header says: no header parsing per
    request (DRF's negotiation, with JSON the only renderer, could only pick it or refuse).
    Request bodies are chosen as DRF chooses them."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class PosApi(APIView):
    """Base of the POS endpoints: JSON only, token auth, token-scoped throttling, bounded bodies."""

    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnly
    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [HasApiToken]
    throttle_classes = [TokenScopedThrottle]
    throttle_scope = "pos_read"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        limit = settings.API_MAX_BODY_BYTES
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        super().initial(request, *args, **kwargs)

    @property
    def retailer(self) -> Retailer:
        # ApiTokenAuthentication sets an ApiToken; HasApiToken has refused every other request.
        token = cast(ApiToken, self.request.auth)
        return token.retailer


class CustomerDetailApi(PosApi):
    @extend_schema(responses={200: s.CustomerOutputSerializer, **ERRORS})
    def get(self, request: Request, external_id: str) -> Response:
        """A customer's active bonuses, points balance and next points expiry."""
        body = customer_snapshot(
            retailer_id=self.retailer.pk,
            external_id=external_id,
            today=retailer_today(self.retailer),
        )
        if body is None:
            raise exceptions.NotFound("No customer with this id.")
        return Response(body)


class TransactionCreateApi(PosApi):
    throttle_scope = "pos_write"

    @extend_schema(
        request=s.TransactionInputSerializer,
        responses={
            201: s.TransactionOutputSerializer,
            200: s.TransactionOutputSerializer,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        """Record a basket and earn its points; sending the same transaction id again is a no-op."""
        data = _valid(s.TransactionInputSerializer, request)
        recorded = transaction_record(
            retailer=self.retailer,
            external_id=data["transaction_id"],
            customer_external_id=data["customer_id"],
            store_external_id=data.get("store_id", ""),
            timestamp=data["timestamp"],
            lines=data["lines"],
        )
        body = {
            "transaction_id": recorded.txn.external_id,
            "customer_id": data["customer_id"],
            "total": recorded.total,
            "points": recorded.points,
            "balance": recorded.balance,
            "created": recorded.created,
        }
        code = status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK
        return Response(s.TransactionOutputSerializer(body).data, status=code)


class RedemptionCreateApi(PosApi):
    throttle_scope = "pos_write"

    @extend_schema(
        request=s.RedemptionInputSerializer,
        parameters=[IDEMPOTENCY_PARAM],
        responses={201: s.RedemptionOutputSerializer, 410: s.ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Redeem a bonus by its code (``Idempotency-Key`` required)."""
        data = _valid(s.RedemptionInputSerializer, request)
        return idempotent(
            request, endpoint="redemptions", data=request.data, effect=lambda: self._redeem(data)
        )

    def _redeem(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        store = None
        if data.get("store_id"):
            store = (
                Store.objects.for_retailer(self.retailer)
                .filter(external_id=data["store_id"])
                .first()
            )
        redeemed = bonus_redeem(
            retailer=self.retailer,
            code=data["code"],
            basket_amount=data.get("basket_amount"),
            store=store,
            api_token=self.request.auth,
            basket_skus=[line["sku"] for line in data.get("lines") or ()],
        )
        body = {
            "redemption_id": redeemed.redemption_id,
            "code": redeemed.code,
            "customer_id": redeemed.customer_external_id,
            "kind": redeemed.kind,
            "value": str(redeemed.value),
            "use_no": redeemed.use_no,
            "uses_left": redeemed.max_uses - redeemed.use_no,
            "cost": str(redeemed.cost),
            "redeemed_at": _DATETIME.to_representation(redeemed.redeemed_at),
        }
        return status.HTTP_201_CREATED, body


class PointsRedeemApi(PosApi):
    throttle_scope = "pos_write"

    @extend_schema(
        request=s.PointsRedeemInputSerializer,
        parameters=[IDEMPOTENCY_PARAM],
        responses={201: s.PointsRedeemOutputSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Spend a customer's points, oldest first (``Idempotency-Key`` required)."""
        data = _valid(s.PointsRedeemInputSerializer, request)
        customer = get_object_or_404(
            Customer.objects.for_retailer(self.retailer), external_id=data["customer_id"]
        )

        def effect() -> tuple[int, dict[str, Any]]:
            entry = points_redeem(
                customer=customer, points=data["points"], reason=data["reason"] or "till"
            )
            body = {
                "customer_id": customer.external_id,
                "points": -entry.points,
                "balance": entry.balance_after,
                "seq": entry.seq,
            }
            return status.HTTP_201_CREATED, dict(s.PointsRedeemOutputSerializer(body).data)

        return idempotent(request, endpoint="points/redeem", data=request.data, effect=effect)


class CampaignFilter(filters.FilterSet):
    week_from = filters.DateFilter(field_name="week_start", lookup_expr="gte")
    week_to = filters.DateFilter(field_name="week_start", lookup_expr="lte")

    class Meta:
        model = Campaign
        fields = ["state"]


class CampaignListApi(PosApi, generics.ListAPIView):
    """The retailer's campaigns, newest week first (filter by state and week)."""

    serializer_class = s.CampaignListOutputSerializer
    queryset = Campaign.objects.none()  # the schema's model; requests use get_queryset()
    filterset_class = CampaignFilter
    filter_backends = [filters.DjangoFilterBackend]

    def get_queryset(self) -> QuerySet[Campaign]:
        return Campaign.objects.for_retailer(self.retailer).order_by("-week_start", "-pk")


class CampaignDetailApi(PosApi, generics.RetrieveAPIView):
    """One campaign with its totals, breakdown and measured results."""

    serializer_class = s.CampaignDetailOutputSerializer
    queryset = Campaign.objects.none()  # the schema's model; requests use get_queryset()

    def get_queryset(self) -> QuerySet[Campaign]:
        return Campaign.objects.for_retailer(self.retailer)


#: One unbound instance per input serializer, built once: a serializer deep-copies its declared
#: fields for every new instance, a fifth of a redemption's CPU. Validation keeps no state on it.
_VALIDATORS: dict[type, serializers.Serializer] = {}


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The validated body, as ``serializer_class(data=...).is_valid(raise_exception=True)``
    gives it (the same errors: :meth:`run_validation` is what ``is_valid`` runs)."""
    validator = _VALIDATORS.get(serializer_class)
    if validator is None:
        validator = _VALIDATORS.setdefault(serializer_class, serializer_class())
    return validator.run_validation(request.data)
