from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers and transactions"

    def ready(self) -> None:
        # retailers runs the imports but sits below customers (layers contract): it gets the
        # readers of customers' files from this registry.
        from customers.resources import CustomerResource, TransactionLineResource
        from retailers.import_kinds import import_kind_register
        from retailers.models import ImportKind

        import_kind_register(kind=ImportKind.CUSTOMERS, resource=CustomerResource)
        import_kind_register(
            kind=ImportKind.TRANSACTIONS,
            resource=TransactionLineResource,
            # By path: the loader (pandas, numpy, pyarrow) is imported by the first import.
            bulk_loader="customers.services.transactions_import.transactions_bulk_import",
        )
