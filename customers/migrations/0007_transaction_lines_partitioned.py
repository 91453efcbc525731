# The transaction lines become a table partitioned by range of transaction_id, so that a big
# import can load its lines into a new table and attach it as one partition, its foreign keys
# checked set-wise instead of row by row (see loyalty_site.partitions). Everything written so far
# becomes the partition customers_transactionline_live (transaction ids below IMPORT_ID_BASE);
# big imports take their transaction ids from customers_transaction_import_id_seq, from
# IMPORT_ID_BASE up. Django's state is unchanged: the model keeps ``id`` as its primary key
# (unique by its sequence); in the database the primary key is (transaction_id, id), because a
# partitioned table's keys must contain the partition key.

from django.db import migrations

# customers.line_partitions.IMPORT_ID_BASE when this migration was written (a migration keeps
# its own copy of what it depends on).
IMPORT_ID_BASE = 10**12

TABLE = "customers_transactionline"
LIVE = "customers_transactionline_live"
LINE_SEQUENCE = "customers_transactionline_id_seq"
IMPORT_SEQUENCE = "customers_transaction_import_id_seq"


def _constraints(cursor, table, kinds):
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = ANY(%s) ORDER BY conname",
        [table, list(kinds)],
    )
    return cursor.fetchall()


def _indexes(cursor, table):
    """Names of the table's indexes that back no constraint."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text FROM pg_index i WHERE i.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def partition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        foreign_keys = _constraints(cursor, TABLE, "f")
        indexes = _indexes(cursor, TABLE)
        cursor.execute(f"SELECT pg_get_serial_sequence('{TABLE}', 'id')")
        (identity,) = cursor.fetchone()
        cursor.execute(f"SELECT pg_sequence_last_value('{identity}')")
        (last,) = cursor.fetchone()
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {LIVE}")
        # Index names are unique per schema: the parent takes them over.
        cursor.execute(f"ALTER TABLE {LIVE} DROP CONSTRAINT {TABLE}_pkey")
        cursor.execute(f"ALTER INDEX line_unique_position RENAME TO {LIVE}_position")
        for name in indexes:
            cursor.execute(f"ALTER INDEX {name} RENAME TO {LIVE}_{name.rsplit('_', 1)[-1]}")
        cursor.execute(f"ALTER TABLE {LIVE} ALTER COLUMN id DROP IDENTITY")
        cursor.execute(f"CREATE SEQUENCE {LINE_SEQUENCE} AS bigint")
        if last is not None:
            cursor.execute(f"SELECT setval('{LINE_SEQUENCE}', %s)", [last])
        cursor.execute(
            f"CREATE TABLE {TABLE} (LIKE {LIVE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            "PARTITION BY RANGE (transaction_id)"
        )
        cursor.execute(f"ALTER SEQUENCE {LINE_SEQUENCE} OWNED BY {TABLE}.id")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{LINE_SEQUENCE}')")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (transaction_id, id)")
        cursor.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT line_unique_position UNIQUE (transaction_id, line_no)"
        )
        # The model's one plain index is its foreign key's, on product_id (migration 0001).
        for name in indexes:
            cursor.execute(f"CREATE INDEX {name} ON {TABLE} (product_id)")
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")
        # Lines of import ids (left by a reversal of this migration) get a partition of their
        # own, and the import sequence starts after them.
        cursor.execute(f"SELECT min(transaction_id), max(transaction_id) FROM {LIVE} WHERE transaction_id >= {IMPORT_ID_BASE}")
        low, high = cursor.fetchone()
        if low is not None:
            imported = f"{TABLE}_{low}"
            cursor.execute(f"CREATE TABLE {imported} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            cursor.execute(f"INSERT INTO {imported} SELECT * FROM {LIVE} WHERE transaction_id >= {IMPORT_ID_BASE}")  # noqa: S608
            cursor.execute(f"DELETE FROM {LIVE} WHERE transaction_id >= {IMPORT_ID_BASE}")  # noqa: S608
            cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {imported} FOR VALUES FROM ({low}) TO ({high + 1})")
        # Its own unique index, check and foreign keys are taken over as the partition's; the
        # primary key index is built.
        cursor.execute(
            f"ALTER TABLE {TABLE} ATTACH PARTITION {LIVE} "
            f"FOR VALUES FROM (MINVALUE) TO ({IMPORT_ID_BASE})"
        )
        cursor.execute(
            f"ALTER TABLE customers_transaction ALTER COLUMN id SET MAXVALUE {IMPORT_ID_BASE - 1}"
        )
        cursor.execute(f"SELECT max(id) FROM customers_transaction WHERE id >= {IMPORT_ID_BASE}")
        (last_import,) = cursor.fetchone()
        start = IMPORT_ID_BASE if last_import is None else last_import + 1
        cursor.execute(
            f"CREATE SEQUENCE {IMPORT_SEQUENCE} AS bigint START {start} "
            "OWNED BY customers_transaction.id"
        )


def unpartition(apps, schema_editor):
    plain = f"{TABLE}_plain"
    with schema_editor.connection.cursor() as cursor:
        foreign_keys = _constraints(cursor, TABLE, "f")
        cursor.execute(f"SELECT pg_sequence_last_value('{LINE_SEQUENCE}')")
        (last,) = cursor.fetchone()
        cursor.execute(
            f"CREATE TABLE {plain} (LIKE {TABLE} INCLUDING CONSTRAINTS)"
        )
        cursor.execute(f"INSERT INTO {plain} SELECT * FROM {TABLE}")  # noqa: S608
        cursor.execute(f"DROP TABLE {TABLE}")  # its partitions and its sequence too
        cursor.execute(f"ALTER TABLE {plain} RENAME TO {TABLE}")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        if last is not None:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), %s)", [last])
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
        cursor.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT line_unique_position UNIQUE (transaction_id, line_no)"
        )
        cursor.execute(f"CREATE INDEX {TABLE}_product_id_99f1a960 ON {TABLE} (product_id)")
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")
        cursor.execute(f"DROP SEQUENCE {IMPORT_SEQUENCE}")
        cursor.execute("ALTER TABLE customers_transaction ALTER COLUMN id SET NO MAXVALUE")


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0006_transaction_customer_same_retailer_fk"),
    ]

    operations = [migrations.RunPython(partition, unpartition)]
