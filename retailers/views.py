"""Staff pages of the retailers app: the retailer switcher, the Team page (members, invitations,
roles) and a new retailer (superusers). The dashboard spans several apps:
``loyalty_site.site.views``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import UserPassesTestMixin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.http import require_POST
from django.views.generic import FormView

from retailers.exceptions import LastAdminRemoved
from retailers.forms import MembershipRoleForm, RetailerCreateForm, TeamInviteForm
from retailers.models import Membership, Role
from retailers.services import retailer_create
from retailers.team import membership_invite, membership_role_set, team_members
from retailers.web import SESSION_KEY, RetailerViewMixin, retailer_switch


def _safe_next(request: HttpRequest) -> str:
    """Where to go after a switch: the page's section when it is a list page of the app (a
    detail page of the old retailer would switch back), else the dashboard."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if allowed and target.startswith("/"):
        try:
            match = resolve(target.split("?", 1)[0])
        except Resolver404:
            match = None
        if match is not None and not match.kwargs and match.view_name != "retailers:switch":
            return target.split("?", 1)[0]
    return reverse("retailers:dashboard")


@login_required
@require_POST
def retailer_switch_view(request: HttpRequest) -> HttpResponse:
    """Make another of the user's retailers the current one (404 if not a member)."""
    retailer = retailer_switch(request, request.POST.get("retailer"))
    messages.info(request, f"Now working on {retailer}.")
    return HttpResponseRedirect(_safe_next(request))


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class TeamView(RetailerViewMixin, FormView):
    """The retailer's members and their roles; admins invite people and change roles."""

    template_name = "retailers/team.html"
    form_class = TeamInviteForm
    min_role = Role.ADMIN

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(members=team_members(retailer=self.retailer), roles=Role.choices)
        return context

    def form_valid(self, form: TeamInviteForm) -> HttpResponse:
        try:
            invitation = membership_invite(
                retailer=self.retailer,
                site_url=self.request.build_absolute_uri("/").rstrip("/"),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
            return self.form_invalid(form)
        user = invitation.membership.user
        link = self.request.build_absolute_uri(invitation.password_path)
        text = f"{user} joined as {invitation.membership.get_role_display()}."
        if invitation.password_path:
            text += f" Their set-your-password link (also e-mailed if an address was given): {link}"
        messages.success(self.request, text)
        return HttpResponseRedirect(reverse("retailers:team"))


class MembershipRoleView(RetailerViewMixin, View):
    """Change one member's role (admins; POST only)."""

    min_role = Role.ADMIN
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Another retailer's member is a 404 whatever was posted.
        member = get_object_or_404(Membership, pk=kwargs["pk"], retailer=self.retailer)
        form = MembershipRoleForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError("Choose one of the roles.")
            member = membership_role_set(
                retailer=self.retailer, membership_id=member.pk, role=form.cleaned_data["role"]
            )
        except (ValidationError, LastAdminRemoved) as exc:
            messages.error(request, f"Not changed: {getattr(exc, 'message', exc)}")
        else:
            messages.success(request, f"{member.user} is now {member.get_role_display()}.")
        return HttpResponseRedirect(reverse("retailers:team"))


class RetailerCreateView(UserPassesTestMixin, FormView):
    """A new retailer (superusers only), which becomes the current one."""

    template_name = "retailers/retailer_form.html"
    form_class = RetailerCreateForm

    def test_func(self) -> bool:
        return bool(self.request.user.is_active and self.request.user.is_superuser)

    def form_valid(self, form: RetailerCreateForm) -> HttpResponse:
        try:
            retailer = retailer_create(**form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
            return self.form_invalid(form)
        self.request.session[SESSION_KEY] = retailer.pk  # work on it from the next page on
        messages.success(self.request, f"{retailer} created. Invite its team on the Team page.")
        return HttpResponseRedirect(reverse("retailers:team"))
