from django.apps import AppConfig


class RetailersConfig(AppConfig):
    name = "retailers"
    verbose_name = "Retailers and products"
