from django.apps import AppConfig


class OptimizerConfig(AppConfig):
    name = "optimizer"
    verbose_name = "Optimisation runs"

    def ready(self) -> None:
        # customers sits below optimizer (layers contract): its data export gets the scores here.
        from optimizer.customer_scores import customer_export_sections_register

        customer_export_sections_register()
