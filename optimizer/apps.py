from django.apps import AppConfig


class OptimizerConfig(AppConfig):
    name = "optimizer"
    verbose_name = "Optimisation runs"

    def ready(self) -> None:
        # customers sits below optimizer (layers contract): its data export gets the scores here.
        from optimizer.customer_scores import customer_export_sections_register

        customer_export_sections_register()
        # retailers sits below optimizer: the retailer's allocation rules get their parser here.
        from optimizer.engine.coupling_rules import coupling_rules_parse
        from retailers.setting_checks import retailer_setting_check_register

        retailer_setting_check_register(field="allocation_rules", check=coupling_rules_parse)
