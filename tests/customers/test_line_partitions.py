"""Big imports load their lines as a partition of their own (customers.line_partitions): the
rows, the ranges, every constraint still on, concurrent imports, plain roles, merging."""

from __future__ import annotations

import io
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from customers import line_partitions
from customers.line_partitions import IMPORT_ID_BASE, LIVE, Partition, merge_plan
from customers.models import Transaction, TransactionLine
from customers.services import transactions_bulk_import
from retailers.exceptions import ImportRejected
from retailers.models import Product
from tests.customers.test_transactions_import import GOOD, HEADER, lines_of, write
from tests.customers.test_transactions_import_integrity import (
    create_plain_role,
    dangling_lines,
    delete_after_writing_transactions,
    make_catalogue,
    set_role,
)

EXPECTED = [
    ("T1", 1, "A", Decimal("1.000"), Decimal("2.50"), Decimal("0.10")),
    ("T1", 2, "B", Decimal("2.500"), Decimal("12.00"), Decimal("1.99")),
    ("T1", 3, "A", Decimal("-1.000"), Decimal("-2.50"), Decimal("-0.10")),
    ("T2", 1, "C", Decimal("0.750"), Decimal("3.10"), Decimal("0.00")),
]


def partition_of(line: TransactionLine) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM customers_transactionline WHERE id = %s",
            [line.pk],
        )
        return cursor.fetchone()[0]


def import_sequence() -> tuple[int, bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value, is_called FROM customers_transaction_import_id_seq")
        return cursor.fetchone()


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def run_checked(sql: str, params: tuple | list = ()) -> None:
    """Run ``sql`` in a savepoint with every constraint checked at once (none deferred)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql, params)


@pytest.fixture
def big(settings):
    """Every import of 4 lines or more counts as big (GOOD has 4 lines in 2 transactions)."""
    settings.IMPORT_PARTITION_MIN_LINES = 4


def test_a_big_import_is_one_partition_over_its_block_of_transaction_ids(db, big, tmp_path):
    retailer = make_catalogue()

    result = transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))

    assert (result.transactions_created, result.lines_created) == (2, 4)
    ids = sorted(Transaction.objects.values_list("pk", flat=True))
    assert ids[0] >= IMPORT_ID_BASE
    assert ids[1] == ids[0] + 1
    name = f"customers_transactionline_{ids[0]}"
    assert line_partitions.import_partitions() == [Partition(name, ids[0], ids[1] + 1, 4)]
    assert lines_of(retailer) == EXPECTED
    assert {partition_of(line) for line in TransactionLine.objects.all()} == {name}
    assert not table_exists(f"{name}_bounds")  # the range check went with the attach
    assert dangling_lines() == 0

    again = transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))

    assert (again.transactions_created, again.transactions_skipped) == (0, 2)
    assert len(line_partitions.import_partitions()) == 1


def test_an_import_below_the_threshold_stays_in_the_live_partition(db, settings, tmp_path):
    settings.IMPORT_PARTITION_MIN_LINES = 5  # GOOD writes 4 lines
    retailer = make_catalogue()

    transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))

    assert max(Transaction.objects.values_list("pk", flat=True)) < IMPORT_ID_BASE
    assert line_partitions.import_partitions() == []
    assert {partition_of(line) for line in TransactionLine.objects.all()} == {LIVE}
    assert lines_of(retailer) == EXPECTED


def test_only_new_lines_count_towards_the_threshold(db, big, tmp_path):
    retailer = make_catalogue()
    transactions_bulk_import(retailer=retailer, path=write(tmp_path, GOOD[1], name="t2.csv"))

    # 4 lines, but T2's is already stored: 3 new lines, below the threshold of 4.
    transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))

    assert line_partitions.import_partitions() == []
    assert lines_of(retailer) == EXPECTED


def test_an_import_partition_keeps_every_constraint(db, big, tmp_path):
    retailer = make_catalogue()
    transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))
    t1 = Transaction.objects.get(external_id="T1")
    product = Product.objects.get(sku="C")
    [partition] = line_partitions.import_partitions()

    # An ORM line added to an imported transaction lands in that import's partition.
    added = TransactionLine.objects.create(
        retailer=retailer,
        transaction=t1,
        line_no=9,
        product=product,
        quantity=1,
        amount=Decimal("1.00"),
        discount=0,
    )
    assert partition_of(added) == partition.name

    columns = "retailer_id, transaction_id, line_no, product_id, quantity, amount, discount"
    refused = {
        "unknown product": (retailer.pk, t1.pk, 10, 10**9, 1, 1, 0),
        "same position": (retailer.pk, t1.pk, 1, product.pk, 1, 1, 0),
        "opposite signs": (retailer.pk, t1.pk, 10, product.pk, 1, -1, 0),
        "outside the range": (retailer.pk, partition.high, 10, product.pk, 1, 1, 0),
    }
    insert = f"INSERT INTO {partition.name} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)"  # noqa: S608
    for label, values in refused.items():
        with pytest.raises((IntegrityError, DatabaseError)):
            run_checked(insert, values)
        assert TransactionLine.objects.count() == 5, label
    # ...and the transactions its lines reference cannot go without them.
    with pytest.raises(IntegrityError):
        run_checked("DELETE FROM customers_transaction WHERE id = %s", [t1.pk])


def test_a_product_deleted_inside_a_big_import_fails_it_with_no_partition_left(
    db, big, tmp_path, monkeypatch
):
    """The attach checks the foreign keys set-wise: a product gone since it was resolved (here
    deleted by the import's own session, which its lock does not stop) is refused there."""
    retailer = make_catalogue()
    product = Product.objects.get(retailer=retailer, sku="B")
    delete_after_writing_transactions(monkeypatch, product)
    before = import_sequence()
    with pytest.raises(ImportRejected) as rejected:
        transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))

    assert import_sequence() != before  # the ids came from the big imports' block

    assert "was deleted during the import" in rejected.value.errors[0].message
    assert "retailers_product" in rejected.value.errors[0].message
    assert Transaction.objects.count() == TransactionLine.objects.count() == 0
    assert line_partitions.import_partitions() == []


@pytest.fixture
def plain_role(db):
    """A plain role that may create tables (the partitions), rolled back with the test."""
    return create_plain_role("GRANT CREATE ON SCHEMA public TO {role}")


def test_a_plain_owner_role_loads_a_partition_with_every_trigger_on(plain_role, big, tmp_path):
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE customers_transactionline OWNER TO {plain_role}")
    set_role(plain_role)
    retailer = make_catalogue()

    transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))

    assert len(line_partitions.import_partitions()) == 1
    assert lines_of(retailer) == EXPECTED
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"
    assert dangling_lines() == 0


def test_a_role_that_does_not_own_the_lines_inserts_them_row_by_row(plain_role, big, tmp_path):
    set_role(plain_role)
    retailer = make_catalogue()

    transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))

    assert line_partitions.import_partitions() == []
    assert lines_of(retailer) == EXPECTED


@pytest.mark.django_db(transaction=True)
def test_concurrent_big_imports_get_separate_blocks_and_partitions(big, tmp_path):
    line_partitions.drop_empty()  # left by other committing tests (their flush empties them)
    retailer = make_catalogue()
    files = []
    for n in range(2):
        rows = [line.replace("T1,", f"X{n}A,").replace("T2,", f"X{n}B,") for line in GOOD]
        files.append(write(tmp_path, *rows, name=f"t{n}.csv"))
    barrier = threading.Barrier(2)
    results: dict[int, object] = {}

    def run(n: int) -> None:
        try:
            barrier.wait(5)
            results[n] = transactions_bulk_import(retailer=retailer, path=files[n])
        except Exception as exc:  # reported by the assertion below
            results[n] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert all(getattr(r, "lines_created", None) == 4 for r in results.values()), results
    partitions = line_partitions.import_partitions()
    assert [partition.lines for partition in partitions] == [4, 4]
    assert partitions[0].high <= partitions[1].low
    assert TransactionLine.objects.count() == 8
    assert dangling_lines() == 0


def test_merging_partitions_keeps_every_line_and_constraint(db, big, tmp_path):
    retailer = make_catalogue()
    for n in range(3):
        rows = [line.replace("T1,", f"X{n}A,").replace("T2,", f"X{n}B,") for line in GOOD]
        transactions_bulk_import(retailer=retailer, path=write(tmp_path, *rows, name=f"{n}.csv"))
    before = sorted(TransactionLine.objects.values_list("pk", "transaction_id", "line_no"))
    parts = line_partitions.import_partitions()
    assert len(parts) == 3

    out = io.StringIO()
    call_command("line_partitions", "--merge", "--target-lines", "8", stdout=out)

    after = line_partitions.import_partitions()
    assert [(p.low, p.high, p.lines) for p in after] == [
        (parts[0].low, parts[1].high, 8),
        (parts[2].low, parts[2].high, 4),
    ]
    assert not table_exists(parts[1].name)
    assert out.getvalue().splitlines() == [
        f"merged 2 partitions into {parts[0].name} (about 8 lines)",
        f"{parts[0].name}: transactions {parts[0].low:,} to {parts[1].high - 1:,}, about 8 lines",
        f"{parts[2].name}: transactions {parts[2].low:,} to {parts[2].high - 1:,}, about 4 lines",
        "2 import partitions",
    ]
    assert sorted(TransactionLine.objects.values_list("pk", "transaction_id", "line_no")) == before
    with pytest.raises(IntegrityError):  # the foreign keys came along
        run_checked(
            "UPDATE customers_transactionline SET product_id = %s WHERE transaction_id = %s",
            [10**9, parts[0].low],
        )


def test_partitions_emptied_by_deletes_are_dropped(db, big, tmp_path):
    retailer = make_catalogue()
    transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))
    [partition] = line_partitions.import_partitions()
    Transaction.objects.all().delete()  # the lines go with them

    call_command("line_partitions", "--drop-empty", stdout=io.StringIO())

    assert line_partitions.import_partitions() == []
    assert not table_exists(partition.name)
    assert table_exists(LIVE)


def test_merge_plan_groups_neighbours_up_to_the_target():
    parts = [
        Partition(f"p{i}", i * 10, i * 10 + 10, lines) for i, lines in enumerate([3, 3, 5, 9, 1, 1])
    ]

    plan = merge_plan(list(reversed(parts)), target_lines=8)

    # 3+3 fit; 5 alone (3+3+5 > 8) then 5+9 > 8; 9 alone; 1+1.
    assert [[p.name for p in run] for run in plan] == [["p0", "p1"], ["p4", "p5"]]


def test_a_header_only_file_is_not_big(db, big, tmp_path):
    retailer = make_catalogue()
    result = transactions_bulk_import(retailer=retailer, path=write(tmp_path, header=HEADER))
    assert result.lines_created == 0
    assert line_partitions.import_partitions() == []


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_and_replays_with_lines_in_every_partition(big, tmp_path):
    line_partitions.drop_empty()  # left by other committing tests (their flush empties them)
    retailer = make_catalogue()
    transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))  # a partition
    small = GOOD[0].replace("T1,", "T9,")
    transactions_bulk_import(retailer=retailer, path=write(tmp_path, small, name="small.csv"))
    before = sorted(TransactionLine.objects.values_list("pk", "transaction_id", "line_no"))
    [partition] = line_partitions.import_partitions()
    executor = MigrationExecutor(connection)

    executor.migrate([("customers", "0006_transaction_customer_same_retailer_fk")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'customers_transactionline'")
        assert cursor.fetchone()[0] == "r"  # a plain table again, with every line
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert sorted(TransactionLine.objects.values_list("pk", "transaction_id", "line_no")) == before
    assert line_partitions.import_partitions() == [partition]
    t9 = TransactionLine.objects.get(transaction__external_id="T9")
    assert partition_of(t9) == LIVE
    again = [line.replace("T1,", "T5,").replace("T2,", "T6,") for line in GOOD]
    transactions_bulk_import(retailer=retailer, path=write(tmp_path, *again, name="again.csv"))
    assert line_partitions.import_partitions()[1].low >= partition.high  # the sequence goes on
