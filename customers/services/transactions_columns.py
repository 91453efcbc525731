"""The columns of transactions.csv, in a module of their own: the admin's resource names them at
start-up without importing the bulk loader's readers (pandas, numpy, pyarrow)."""

#: The columns of the public contract, in the order errors are listed within a row.
COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "customer_id",
    "store_id",
    "timestamp",
    "sku",
    "quantity",
    "amount",
    "discount",
)
