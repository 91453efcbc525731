"""One-click unsubscribe from offer e-mails (RFC 8058), reached from every message.

``GET`` shows a page with one button; it changes nothing, because mail scanners and link
previews open every link of a message. ``POST`` withdraws the marketing consent (audited): the
page's button, and mail providers that honour ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
(they POST that body without cookies, so the view is CSRF-exempt: the signed token is the
credential). An unknown or forged token is a 404. Rate-limited per client address like the portal.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from customers.services.consent import customer_consent_withdraw, unsubscribe_customer
from loyalty_site.rate_limit import hit


def _limited(request: HttpRequest) -> HttpResponse | None:
    counted = hit(f"unsubscribe:{request.META.get('REMOTE_ADDR', '')}", 60)
    if counted.count <= settings.PORTAL_RATE_PER_MINUTE:
        return None
    response = HttpResponse("Too many requests; try again in a minute.", status=429)
    response["Retry-After"] = str(math.ceil(counted.seconds_left))
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    limited = _limited(request)
    if limited is not None:
        return limited
    customer = unsubscribe_customer(token=token)
    if customer is None:
        raise Http404("Unknown link.")
    done = request.method == "POST"
    if done:
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        source = "one-click unsubscribe (RFC 8058)" if one_click else "unsubscribe page"
        customer_consent_withdraw(customer_id=customer.pk, source=source)
    context = {"retailer": customer.retailer, "done": done}
    response = render(request, "portal/unsubscribe.html", context)
    response["Cache-Control"] = "no-store, private"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
