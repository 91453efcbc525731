from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Bonuses and campaigns"

    def ready(self) -> None:
        # retailers runs the imports but sits below campaigns (layers contract): it gets the
        # reader of past offers from this registry.
        from campaigns.resources import PastOfferResource
        from retailers.import_kinds import import_kind_register
        from retailers.models import ImportKind

        import_kind_register(kind=ImportKind.OFFERS, resource=PastOfferResource)
