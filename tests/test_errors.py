"""The one error model: every domain error has a stable code and a status, the API handler and
the page handler translate it, and nothing maps errors by class name any more."""

from __future__ import annotations

import importlib
import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.views import View
from rest_framework.exceptions import ValidationError

from campaigns.exceptions import (
    ApprovalForbidden,
    BonusExpired,
    BonusNotFound,
    IdempotencyKeyReused,
    TransitionNotAllowed,
)
from customers.exceptions import InsufficientPoints, InvalidPointsAmount
from loyalty_site.api_errors import api_exception_handler
from loyalty_site.error_pages import DomainErrorMiddleware, DomainErrorRedirectMixin
from loyalty_site.errors import ApplicationError
from optimizer.exceptions import (
    AllocationSettingsInvalid,
    PromotionWeekDecided,
    ScoringArtifactInvalid,
    ScoringRunAlreadyActive,
)
from retailers.exceptions import DemoRetailerConflict, ImportRejected, RowError, RunNotRestartable

#: Every module that defines domain errors: importing them registers every subclass.
ERROR_MODULES = [
    "campaigns.exceptions",
    "customers.exceptions",
    "optimizer.exceptions",
    "retailers.exceptions",
    # The modules callers used to import errors from: they still re-export the same classes.
    "campaigns.api.idempotency",
    "campaigns.services.redemption",
    "customers.services.points",
    "retailers.lifecycle",
    "loyalty_site.site.demo.writing",
]
CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def all_domain_errors() -> list[type[ApplicationError]]:
    for module in ERROR_MODULES:
        importlib.import_module(module)
    found, todo = [], list(ApplicationError.__subclasses__())
    while todo:
        klass = todo.pop()
        if not klass.__module__.startswith("tests."):
            found.append(klass)
        todo.extend(klass.__subclasses__())
    return sorted(set(found), key=lambda k: k.__qualname__)


def test_every_domain_error_has_its_own_code_and_an_http_error_status():
    errors = all_domain_errors()
    assert len(errors) >= 30  # the walk really reached every app's errors
    assert {k.__module__ for k in errors} == {
        "campaigns.exceptions",
        "customers.exceptions",
        "optimizer.exceptions",
        "retailers.exceptions",
    }
    for klass in errors:
        assert "code" in vars(klass), f"{klass.__name__} states no code of its own"
        assert CODE.match(klass.code), f"{klass.__name__}.code {klass.code!r} is not snake_case"
        assert 400 <= klass.status < 600, f"{klass.__name__}.status {klass.status}"
        assert not hasattr(klass, "api_status"), f"{klass.__name__} keeps a status attribute"
    codes = [k.code for k in errors]
    assert len(codes) == len(set(codes)), "two errors share a code: clients cannot tell them apart"


def test_the_old_import_paths_give_the_same_classes():
    from campaigns.api.idempotency import IdempotencyKeyReused as via_api
    from campaigns.services.redemption import BonusExpired as via_service
    from customers.services.points import InsufficientPoints as via_points
    from retailers.lifecycle import RunNotRestartable as via_lifecycle

    assert via_api is IdempotencyKeyReused
    assert via_service is BonusExpired
    assert via_points is InsufficientPoints
    assert via_lifecycle is RunNotRestartable


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (TransitionNotAllowed("campaign is issued"), 409, "transition_not_allowed"),
        (ApprovalForbidden("four eyes"), 403, "forbidden"),
        (BonusNotFound("no such bonus"), 404, "not_found"),
        (BonusExpired("expired on 2026-01-01"), 410, "expired"),
        (IdempotencyKeyReused("other body"), 422, "idempotency_key_reused"),
        (InsufficientPoints("balance 10"), 409, "insufficient_points"),
        (InvalidPointsAmount("zero"), 400, "invalid_points"),
        (ScoringRunAlreadyActive("run #3 active", run_id=3), 409, "scoring_run_active"),
        (ScoringArtifactInvalid("sha256 differs"), 500, "scoring_artifact_invalid"),
        (AllocationSettingsInvalid("budget"), 400, "allocation_settings_invalid"),
        (PromotionWeekDecided("week approved"), 409, "promotion_week_decided"),
        (ImportRejected([RowError(2, "sku", "empty")]), 400, "import_rejected"),
        (RunNotRestartable("run finished"), 409, "run_not_restartable"),
        (DemoRetailerConflict("not a demo"), 409, "demo_retailer_conflict"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_api_handler_answers_each_apps_errors_with_their_status_and_code(error, status, code):
    response = api_exception_handler(error, {})
    assert response is not None
    assert response.status_code == status
    assert response.data == {"error": {"code": code, "message": str(error)}}


def test_api_handler_answers_a_new_error_class_without_any_table():
    class ShelfEmpty(ApplicationError):
        """The shelf is empty."""

        code = "shelf_empty"
        status = 409

    response = api_exception_handler(ShelfEmpty(), {})
    assert response.status_code == 409
    assert response.data == {"error": {"code": "shelf_empty", "message": "The shelf is empty."}}


def test_api_handler_keeps_validation_errors_as_400_invalid_with_fields():
    drf = api_exception_handler(ValidationError({"points": ["Too many."]}), {})
    django = api_exception_handler(DjangoValidationError({"sku": "Empty."}), {})
    assert drf.status_code == django.status_code == 400
    assert drf.data["error"] == {
        "code": "invalid",
        "message": "Invalid input: points.",
        "fields": {"points": ["Too many."]},
    }
    assert django.data["error"]["fields"] == {"sku": ["Empty."]}


def test_api_handler_leaves_other_exceptions_to_a_500():
    assert api_exception_handler(RuntimeError("bug"), {}) is None


# --- Pages --------------------------------------------------------------------------------------
class _Refusing(DomainErrorRedirectMixin, View):
    domain_error_prefix = "Not done: "

    def get(self, request, *args, **kwargs):
        raise TransitionNotAllowed("already issued")

    post = get

    def domain_error_url(self, exc):
        return f"/back/{self.kwargs['pk']}/"


def _with_messages(request):
    request.user = AnonymousUser()
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_page_mixin_turns_a_refused_post_into_a_message_and_a_redirect(rf):
    request = _with_messages(rf.post("/x/"))
    response = _Refusing.as_view()(request, pk=7)
    assert response.status_code == 302
    assert response.url == "/back/7/"
    assert [str(m) for m in get_messages(request)] == ["Not done: already issued"]


def test_page_mixin_lets_a_get_through_to_the_status_page(rf):
    request = _with_messages(rf.get("/x/"))
    with pytest.raises(TransitionNotAllowed):
        _Refusing.as_view()(request, pk=7)


@pytest.mark.django_db
def test_page_middleware_renders_the_errors_status_page(rf):
    middleware = DomainErrorMiddleware(lambda request: HttpResponse())
    request = _with_messages(rf.get("/campaigns/3/"))
    response = middleware.process_exception(request, ApprovalForbidden("four eyes: not you"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "four eyes: not you" in page
    assert "forbidden" in page


def test_page_middleware_leaves_api_paths_and_other_errors_alone(rf):
    middleware = DomainErrorMiddleware(lambda request: HttpResponse())
    assert middleware.process_exception(rf.get("/api/v1/x"), ApprovalForbidden("no")) is None
    assert middleware.process_exception(rf.get("/campaigns/"), RuntimeError("bug")) is None
