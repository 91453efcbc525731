"""The customer portal page: the customer's own bonuses (with QR codes) and points.

It shows the customer's bonuses (campaigns) beside the points (customers), so it sits in the
top layer. Reached only through a secret link (see ``customers/services/portal.py``); a bad link
is a 404. Page views are rate-limited per client address (a counter shared by the web
processes), and the answer is never cached or sent as a referrer (the token is in the URL). Dates
are shown in the retailer's time zone.
"""

from __future__ import annotations

import math

import segno
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from campaigns.models import Bonus, BonusState
from customers.services.points import points_history, points_summary, retailer_today
from customers.services.portal import portal_access_resolve
from loyalty_site.rate_limit import hit


def qr_svg(code: str) -> str:
    """The bonus code as an inline SVG QR code (segno; no image files, no CDN)."""
    return segno.make(code, error="m", micro=False).svg_inline(scale=4, border=2, omitsize=True)


@require_GET
def portal_page(request: HttpRequest, token: str) -> HttpResponse:
    counted = hit(f"portal:{request.META.get('REMOTE_ADDR', '')}", 60)
    if counted.count > settings.PORTAL_RATE_PER_MINUTE:
        response = HttpResponse("Too many requests; try again in a minute.", status=429)
        response["Retry-After"] = str(math.ceil(counted.seconds_left))
        return response
    access = portal_access_resolve(token=token)
    if access is None:
        raise Http404("Unknown or expired link.")
    customer = access.customer
    today = retailer_today(customer.retailer)
    bonuses = Bonus.objects.for_retailer(customer.retailer_id).filter(customer=customer)
    active = list(
        bonuses.filter(state=BonusState.ISSUED, valid_to__gte=today)
        .select_related("bonus_type", "product", "offer")
        .order_by("valid_to")
    )
    redeemed = list(
        bonuses.filter(uses__gt=0)
        .select_related("bonus_type", "product")
        .order_by("-state_changed_at")[:20]
    )
    context = {
        "customer": customer,
        "retailer": customer.retailer,
        "active": [(bonus, qr_svg(bonus.code)) for bonus in active],
        "redeemed": redeemed,
        "summary": points_summary(customer=customer, as_of=today),
        "history": points_history(customer=customer, limit=50),
        "expires_at": access.expires_at,
    }
    with timezone.override(customer.retailer.tz):  # the customer's dates as the shop sees them
        response = render(request, "portal/page.html", context)
    response["Cache-Control"] = "no-store, private"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
