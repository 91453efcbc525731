from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Bonuses and campaigns"

    def ready(self) -> None:
        # retailers and customers sit below campaigns (layers contract): they get the reader of
        # past offers, the audit recorder and the campaigns' customer-export sections from here.
        from campaigns.resources import PastOfferResource
        from campaigns.services.audit import audit_record
        from campaigns.services.customer_data import customer_export_sections_register
        from customers.audit import audit_recorder_register
        from retailers.import_kinds import import_kind_register
        from retailers.models import ImportKind

        import_kind_register(kind=ImportKind.OFFERS, resource=PastOfferResource)
        audit_recorder_register(audit_record)
        customer_export_sections_register()
