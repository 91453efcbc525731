"""POS API of the optimizer: start a scoring run. It reuses the POS API's authentication,
throttling and error schema (``campaigns.api``, a layer below); the tills' URL conf
(``loyalty_site/urls_tills.py``) serves it under the same ``api`` namespace."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.api import serializers as s
from campaigns.api.views import ERRORS, PosApi
from optimizer.services import scoring_run_create


class ScoringRunCreateApi(PosApi):
    throttle_scope = "pos_write"

    @extend_schema(
        request=s.ScoringRunInputSerializer,
        responses={202: s.ScoringRunOutputSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Start a scoring run for the token's retailer (409 while one is queued or running)."""
        serializer = s.ScoringRunInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = scoring_run_create(
            retailer=self.retailer, as_of=data.get("as_of"), horizon_weeks=data["horizon_weeks"]
        )
        body = {
            "id": run.pk,
            "status": run.status,
            "as_of": run.as_of,
            "horizon_weeks": run.horizon_weeks,
        }
        return Response(s.ScoringRunOutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)
