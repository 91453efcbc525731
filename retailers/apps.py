from django.apps import AppConfig


class RetailersConfig(AppConfig):
    name = "retailers"
    verbose_name = "Retailers and products"

    def ready(self) -> None:
        from loyalty_site.workers import connect_worker_signals

        connect_worker_signals()
