"""Staff sign-in: login, lockout (django-axes), logout, password change and reset, retailer
switching, and the layout's navigation per user."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from retailers.models import Role
from retailers.web import SESSION_KEY
from tests.retailers.factories import MembershipFactory, RetailerFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Secret-123"  # UserFactory's


def sign_in(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_page_renders_with_csrf_and_local_assets_only(client):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "csrfmiddlewaretoken" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no CDN, works offline


def test_login_redirects_to_the_dashboard(client, retailer, make_staff):
    user = make_staff(retailer, Role.VIEWER)
    response = sign_in(client, user.username)
    assert response.status_code == 302
    assert response.url == reverse("retailers:dashboard")
    assert client.get(response.url).status_code == 200


@pytest.mark.parametrize(
    "name", ["retailers:dashboard", "customers:list", "optimizer:run-list", "optimizer:run-start"]
)
def test_pages_redirect_anonymous_users_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


def test_five_failed_sign_ins_lock_the_username_and_ip_out(client, retailer, make_staff):
    user = make_staff(retailer, Role.ANALYST)
    for _ in range(4):
        assert sign_in(client, user.username, "wrong").status_code == 200
    locked = sign_in(client, user.username, "wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    # Even the right password is refused during the cool-off...
    again = sign_in(client, user.username)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session
    # ...but only for this username from this address (lockout by username + IP).
    other = make_staff(retailer, Role.ANALYST)
    assert sign_in(client, other.username).status_code == 302
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert sign_in(elsewhere, user.username).status_code == 302


def test_logout_is_a_post_and_ends_the_session(client, staff_user):
    client.force_login(staff_user)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("retailers:dashboard")).status_code == 302


def test_password_change(client, staff_user):
    client.force_login(staff_user)
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another-Long-pass-77",
            "new_password2": "another-Long-pass-77",
        },
    )
    assert response.status_code == 302
    staff_user.refresh_from_db()
    assert staff_user.check_password("another-Long-pass-77")


def test_password_reset_mails_a_working_link(client, staff_user):
    assert client.get(reverse("password_reset")).status_code == 200
    response = client.post(reverse("password_reset"), {"email": staff_user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    assert "Choose a new password" in form.content.decode()


def test_forms_are_refused_without_a_csrf_token(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.post(reverse("optimizer:run-start"), {"horizon_weeks": 8}).status_code == 403
    assert client.post(reverse("retailers:switch"), {"retailer": 1}).status_code == 403


# --- The current retailer and the switcher -------------------------------------------------


def test_a_user_of_one_retailer_never_sees_the_switcher(
    client, retailer, other_retailer, make_staff
):
    client.force_login(make_staff(retailer, Role.VIEWER))
    html = client.get(reverse("retailers:dashboard")).content.decode()
    assert 'name="retailer"' not in html
    assert retailer.name in html
    assert other_retailer.name not in html


def test_a_user_of_several_retailers_switches_between_them(client, retailer, other_retailer):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, retailer=retailer, role=Role.VIEWER)
    MembershipFactory(user=user, retailer=other_retailer, role=Role.ANALYST)
    client.force_login(user)
    page = client.get(reverse("retailers:dashboard"))
    html = page.content.decode()
    assert 'name="retailer"' in html
    # First by name: Acme Foods; the role shown is the one held there.
    assert page.context["retailer"] == retailer
    assert "Viewer at Acme Foods" in html
    response = client.post(
        reverse("retailers:switch"),
        {"retailer": other_retailer.pk, "next": reverse("customers:list")},
    )
    assert response.status_code == 302
    assert response.url == reverse("customers:list")
    assert client.session[SESSION_KEY] == other_retailer.pk
    page = client.get(reverse("retailers:dashboard"))
    assert page.context["retailer"] == other_retailer
    assert "Analyst at Globex Markets" in page.content.decode()


def test_switching_to_a_retailer_you_do_not_belong_to_is_404(client, retailer, other_retailer):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, retailer=retailer, role=Role.ADMIN)
    client.force_login(user)
    client.get(reverse("retailers:dashboard"))
    response = client.post(reverse("retailers:switch"), {"retailer": other_retailer.pk})
    assert response.status_code == 404
    assert client.post(reverse("retailers:switch"), {"retailer": "x"}).status_code == 404
    assert client.session[SESSION_KEY] == retailer.pk


def test_a_stale_session_retailer_falls_back_to_a_membership(client, retailer, other_retailer):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, retailer=retailer, role=Role.VIEWER)
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = other_retailer.pk  # e.g. the membership was removed meanwhile
    session.save()
    page = client.get(reverse("retailers:dashboard"))
    assert page.context["retailer"] == retailer


def test_switch_goes_to_the_dashboard_rather_than_an_unsafe_or_detail_next(client, retailer):
    other = RetailerFactory(slug="initech", name="Initech")
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, retailer=retailer)
    MembershipFactory(user=user, retailer=other)
    client.force_login(user)
    dashboard = reverse("retailers:dashboard")
    for target in ("https://evil.example/", "/customers/1/", "/nowhere/"):
        response = client.post(reverse("retailers:switch"), {"retailer": other.pk, "next": target})
        assert response.url == dashboard


def test_superusers_may_switch_to_every_retailer(client, retailer, other_retailer):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    html = client.get(reverse("retailers:dashboard")).content.decode()
    assert retailer.name in html
    assert other_retailer.name in html
    response = client.post(reverse("retailers:switch"), {"retailer": other_retailer.pk})
    assert response.status_code == 302
    assert client.get(reverse("retailers:dashboard")).context["retailer"] == other_retailer


def test_a_user_without_any_retailer_gets_an_explanation(client):
    client.force_login(UserFactory(is_staff=True))
    response = client.get(reverse("customers:list"))
    assert response.status_code == 403
    assert "No retailer yet" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "is_staff", "admin_link"),
    [(Role.VIEWER, False, False), (Role.VIEWER, True, True), (Role.ADMIN, True, True)],
)
def test_navigation(client, retailer, role, is_staff, admin_link):
    user = UserFactory(is_staff=is_staff)
    MembershipFactory(user=user, retailer=retailer, role=role)
    client.force_login(user)
    html = client.get(reverse("customers:list")).content.decode()
    for label in ("Dashboard", "Customers", "Runs"):
        assert f">{label}</a>" in html
    assert '<a href="/customers/" aria-current="page">' in html
    assert (f'href="{reverse("admin:index")}"' in html) is admin_link
