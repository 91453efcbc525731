from django.apps import AppConfig


class SiteConfig(AppConfig):
    """Installed only for its management commands (``load_demo``, ``generate_retailer``); it has
    no models."""

    name = "loyalty_site.site"
    label = "site"
    verbose_name = "Site pages and demo"
