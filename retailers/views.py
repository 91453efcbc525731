"""Staff pages of the retailers app: the retailer switcher (the dashboard spans several apps:
``loyalty_site.site.views``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from retailers.web import retailer_switch


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
