"""Referential integrity of the bulk loader on PostgreSQL: concurrent deletes, dangling rows, and
an import by a role that is not a superuser (every constraint stays on for every role)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import DatabaseError, IntegrityError, connection
from django.db.models import ProtectedError

from customers.models import Transaction, TransactionLine
from customers.services import transactions_bulk_import
from customers.services import transactions_load as module
from retailers.exceptions import ImportRejected
from retailers.models import Product
from tests.customers.factories import CustomerFactory
from tests.customers.test_transactions_import import GOOD, write
from tests.retailers.factories import ProductFactory, RetailerFactory, StoreFactory


def make_catalogue():
    retailer = RetailerFactory(slug="acme")
    StoreFactory(retailer=retailer, external_id="S1")
    for sku in ("A", "B", "C"):
        ProductFactory(retailer=retailer, sku=sku)
    CustomerFactory(retailer=retailer, external_id="C1")
    CustomerFactory(retailer=retailer, external_id="C2")
    return retailer


def dangling_lines() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM customers_transactionline l WHERE NOT EXISTS "
            "(SELECT 1 FROM retailers_product p WHERE p.id = l.product_id) OR NOT EXISTS "
            "(SELECT 1 FROM customers_transaction t WHERE t.id = l.transaction_id "
            "AND t.retailer_id = l.retailer_id)"
        )
        return cursor.fetchone()[0]


def wait_for_a_lock_wait(seconds: float = 4.0) -> bool:
    """True once another session waits for a lock that ours holds (checked from ours)."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else frozen for the transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


def delete_after_writing_transactions(monkeypatch, product: Product) -> None:
    """Make the import's own session delete ``product`` right after it wrote the transactions
    (after ``product`` was resolved: its lock does not stop its own session)."""
    real_write = module.LoadPlan._write_transactions

    def write_then_delete(plan, codes, partition):
        real_write(plan, codes, partition)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM retailers_product WHERE id = %s", [product.pk])

    monkeypatch.setattr(module.LoadPlan, "_write_transactions", write_then_delete)


@pytest.mark.django_db(transaction=True)
def test_transactions_bulk_import_makes_a_concurrent_product_delete_wait_then_fail(
    tmp_path, monkeypatch
):
    retailer = make_catalogue()
    product = Product.objects.get(retailer=retailer, sku="A")
    outcome: dict[str, object] = {}

    def delete_product() -> None:
        try:
            Product.objects.filter(pk=product.pk).delete()
            outcome["deleted"] = True
        except (IntegrityError, ProtectedError, DatabaseError) as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    deleter = threading.Thread(target=delete_product)
    real_chunks = module.insert_chunks

    def lines_while_a_delete_waits(model, columns, chunks, **kwargs):
        deleter.start()  # the product is resolved and locked by now
        outcome["waited"] = wait_for_a_lock_wait()
        return real_chunks(model, columns, chunks, **kwargs)

    monkeypatch.setattr(module, "insert_chunks", lines_while_a_delete_waits)
    result = transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))
    deleter.join(10)

    assert outcome["waited"] is True, outcome  # the DELETE waited for the import's lock...
    # ...then, the lines being committed, the foreign key refused it (Django's PROTECT check
    # ran before the wait and saw no line yet).
    assert isinstance(outcome.get("error"), IntegrityError | ProtectedError), outcome
    assert "deleted" not in outcome
    assert Product.objects.filter(pk=product.pk).exists()
    assert result.lines_created == 4
    assert TransactionLine.objects.filter(product=product).count() == 2
    assert dangling_lines() == 0


@pytest.mark.django_db(transaction=True)
def test_transactions_bulk_import_fails_cleanly_when_a_product_vanishes_inside_it(
    tmp_path, monkeypatch
):
    """A product deleted after it was resolved (here by the import's own session, which its
    lock does not stop) is caught by the foreign key's trigger."""
    retailer = make_catalogue()
    product = Product.objects.get(retailer=retailer, sku="B")
    delete_after_writing_transactions(monkeypatch, product)
    with pytest.raises(ImportRejected) as rejected:
        transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))

    error = rejected.value.errors[0]
    assert error.row == 0
    assert "was deleted during the import" in error.message
    assert "retailers_product" in error.message
    assert Transaction.objects.count() == TransactionLine.objects.count() == 0
    assert Product.objects.filter(pk=product.pk).exists()  # rolled back with the rest


def create_plain_role(*grants: str) -> str:
    """A new role without superuser, granted every table and sequence of the schema and the
    SQL ``grants`` (``{role}`` filled in). It is created inside the test's transaction and
    rolled back with it."""
    role = f"bulk_test_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOSUPERUSER NOLOGIN")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        for grant in grants:
            cursor.execute(grant.format(role=role))
    return role


def set_role(role: str) -> None:
    """Switch this test's session to ``role`` (until the test's transaction ends)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {role}")
        cursor.execute("SELECT current_user, current_setting('is_superuser')")
        assert cursor.fetchone() == (role, "off")


@pytest.fixture
def non_superuser(db):
    """This test's session as a plain role: no superuser, no special grant."""
    role = create_plain_role()
    set_role(role)
    return role


def test_transactions_bulk_import_works_for_a_plain_role(non_superuser, tmp_path):
    retailer = make_catalogue()  # written as the role

    result = transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))

    assert (result.transactions_created, result.lines_created) == (2, 4)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # whatever is still deferred passes
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"  # no trigger was switched off
    assert dangling_lines() == 0


def test_transactions_bulk_import_of_a_plain_role_refuses_a_product_deleted_inside_it(
    non_superuser, tmp_path, monkeypatch
):
    retailer = make_catalogue()
    product = Product.objects.get(retailer=retailer, sku="A")
    delete_after_writing_transactions(monkeypatch, product)
    with pytest.raises(ImportRejected, match="was deleted during the import"):
        transactions_bulk_import(retailer=retailer, path=write(tmp_path, *GOOD))
    assert Transaction.objects.count() == TransactionLine.objects.count() == 0
