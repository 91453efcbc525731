"""``WEB_POOL`` picks the URLs a web process serves; a mistyped pool refuses to start."""

from __future__ import annotations

import pytest
from django.urls import Resolver404, resolve

from tests.test_settings import load_settings


@pytest.mark.parametrize(
    ("pool", "urlconf"),
    [
        ("", "loyalty_site.urls"),
        ("all", "loyalty_site.urls"),
        ("tills", "loyalty_site.urls_tills"),
        ("staff", "loyalty_site.urls_staff"),
    ],
)
def test_web_pool_selects_the_urlconf(monkeypatch, pool, urlconf):
    if pool:
        monkeypatch.setenv("WEB_POOL", pool)
    else:
        monkeypatch.delenv("WEB_POOL", raising=False)
    assert load_settings(monkeypatch)["ROOT_URLCONF"] == urlconf


def test_a_mistyped_web_pool_is_refused(monkeypatch):
    monkeypatch.setenv("WEB_POOL", "till")
    with pytest.raises(ValueError, match="WEB_POOL must be one of all, tills, staff"):
        load_settings(monkeypatch)


def test_the_pools_split_the_sites_urls_without_overlap():
    api = "/api/v1/redemptions/"
    assert resolve(api, "loyalty_site.urls_tills").url_name == "redemptions"
    assert resolve("/admin/", "loyalty_site.urls_staff").url_name == "index"
    for path, urlconf in ((api, "loyalty_site.urls_staff"), ("/admin/", "loyalty_site.urls_tills")):
        with pytest.raises(Resolver404):
            resolve(path, urlconf)
    # The single pool serves both.
    assert resolve(api, "loyalty_site.urls").url_name == "redemptions"
    assert resolve("/admin/", "loyalty_site.urls").url_name == "index"
