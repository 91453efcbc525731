"""The Team page: a retailer admin invites people and sets roles; a superuser creates a
retailer. Nobody below admin gets in, and another retailer's member is 404."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from retailers.models import Membership, Retailer, Role
from retailers.web import SESSION_KEY

pytestmark = pytest.mark.django_db


def test_an_admin_invites_a_new_person_who_gets_a_password_link(
    client, retailer, make_staff, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(make_staff(retailer, Role.ADMIN, username="boss"))
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            reverse("retailers:team"),
            {"username": "nina", "email": "nina@example.com", "role": Role.ANALYST},
            follow=True,
        )
    assert page.status_code == 200
    nina = get_user_model().objects.get(username="nina")
    assert not nina.has_usable_password()
    assert Membership.objects.get(user=nina, retailer=retailer).role == Role.ANALYST
    text = page.content.decode()
    assert "nina joined as Analyst" in text
    assert "/accounts/reset/" in text
    assert "/accounts/reset/" in mailoutbox[0].body


def test_an_existing_account_just_joins_and_a_member_is_not_invited_twice(
    client, retailer, other_retailer, make_staff
):
    client.force_login(make_staff(retailer, Role.ADMIN))
    make_staff(other_retailer, Role.VIEWER, username="olli")
    client.post(reverse("retailers:team"), {"username": "olli", "role": Role.VIEWER})
    assert Membership.objects.filter(user__username="olli").count() == 2
    again = client.post(reverse("retailers:team"), {"username": "olli", "role": Role.VIEWER})
    assert "already in the team" in again.content.decode()


def test_roles_change_but_the_last_admin_stays(client, retailer, make_staff):
    boss = make_staff(retailer, Role.ADMIN)
    viewer = make_staff(retailer, Role.VIEWER)
    client.force_login(boss)
    member = Membership.objects.get(user=viewer)
    client.post(reverse("retailers:member-role", args=[member.pk]), {"role": Role.APPROVER})
    member.refresh_from_db()
    assert member.role == Role.APPROVER
    own = Membership.objects.get(user=boss)
    page = client.post(
        reverse("retailers:member-role", args=[own.pk]), {"role": Role.VIEWER}, follow=True
    )
    own.refresh_from_db()
    assert own.role == Role.ADMIN
    assert "Not changed" in page.content.decode()


def test_team_is_for_admins_and_other_retailers_members_are_404(
    client, retailer, other_retailer, make_staff
):
    client.force_login(make_staff(retailer, Role.APPROVER))
    assert client.get(reverse("retailers:team")).status_code == 403
    client.force_login(make_staff(retailer, Role.ADMIN))
    stranger = Membership.objects.get(user=make_staff(other_retailer, Role.VIEWER))
    answer = client.post(reverse("retailers:member-role", args=[stranger.pk]), {"role": "admin"})
    assert answer.status_code == 404


def test_a_superuser_creates_a_retailer_and_works_on_it(client, retailer, make_staff):
    admin = make_staff(retailer, Role.ADMIN)
    client.force_login(admin)
    assert client.get(reverse("retailers:create")).status_code == 403
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    answer = client.post(
        reverse("retailers:create"),
        {
            "name": "Nordic Deli",
            "slug": "nordic",
            "currency": "SEK",
            "time_zone": "Europe/Stockholm",
            "locale": "sv",
        },
    )
    assert answer.status_code == 302
    created = Retailer.objects.get(slug="nordic")
    assert client.session[SESSION_KEY] == created.pk
    assert created.locale == "sv"
    bad = client.post(
        reverse("retailers:create"),
        {"name": "X", "slug": "x", "currency": "euro", "time_zone": "Mars/Base"},
    )
    assert bad.status_code == 200
    assert not Retailer.objects.filter(slug="x").exists()


def test_a_retailer_admin_without_model_permissions_manages_it_in_the_admin(
    client, retailer, other_retailer, make_staff
):
    boss = make_staff(retailer, Role.ADMIN)  # like demo-admin: is_staff, a role, no permission
    assert not boss.user_permissions.exists()
    client.force_login(boss)
    index = client.get(reverse("admin:index")).content.decode()
    for model in ("retailer", "membership", "apitoken"):
        assert f"/admin/{'campaigns' if model == 'apitoken' else 'retailers'}/{model}/" in index
    assert (
        client.get(reverse("admin:retailers_retailer_change", args=[retailer.pk])).status_code
        == 200
    )
    member = Membership.objects.get(user=boss)
    assert (
        client.get(reverse("admin:retailers_membership_change", args=[member.pk])).status_code
        == 200
    )
    other = client.get(reverse("admin:retailers_retailer_change", args=[other_retailer.pk]))
    assert other.status_code == 302  # not one of theirs: the admin sends them back to its index
    client.force_login(make_staff(retailer, Role.VIEWER))
    viewing = client.get(reverse("admin:retailers_retailer_change", args=[retailer.pk]))
    assert viewing.status_code == 200
    assert "Save" not in viewing.content.decode()
