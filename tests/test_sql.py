"""The retailer scope of plain SQL (loyalty_site.sql): one helper writes and binds it."""

from __future__ import annotations

import pytest
from django.db import connection

from campaigns.models import Bonus
from loyalty_site.sql import RetailerSQL, retailer_sql
from retailers.models import Product
from tests.retailers.factories import ProductFactory


def test_retailer_sql_writes_the_predicate_and_quotes_the_tables():
    query = retailer_sql(
        "SELECT b.id FROM {bonus} b WHERE {retailer:b} AND b.code = %(code)s", bonus=Bonus
    )
    assert query.text == (
        'SELECT b.id FROM "campaigns_bonus" b WHERE b.retailer_id = %(retailer_id)s '
        "AND b.code = %(code)s"
    )
    assert query.params(7, code="A1") == {"code": "A1", "retailer_id": 7}


def test_retailer_sql_unqualified_predicate_and_value_markers():
    update = retailer_sql(
        "UPDATE {bonus} SET uses = 0 WHERE id = %(id)s AND {retailer}", bonus=Bonus
    )
    assert update.text.endswith("AND retailer_id = %(retailer_id)s")
    insert = retailer_sql(
        "INSERT INTO {bonus} (retailer_id, code) VALUES ({retailer_id}, 'X')", bonus=Bonus
    )
    assert "VALUES (%(retailer_id)s, 'X')" in insert.text


@pytest.mark.parametrize(
    "template",
    [
        "SELECT id FROM {bonus}",  # no scope at all
        "SELECT id FROM {bonus} b WHERE b.retailer_id = %(rid)s",  # hand-written predicate
        "SELECT id FROM {bonus} b WHERE {retailer:b} OR b.retailer_id IN (1, 2)",
        "SELECT id FROM {bonus} b WHERE b.owner = %(retailer_id)s AND {retailer:b}",
    ],
)
def test_retailer_sql_refuses_statements_not_scoped_by_the_helper(template):
    with pytest.raises(ValueError, match="retailer"):
        retailer_sql(template, bonus=Bonus)


def test_retailer_sql_refuses_an_unknown_table_and_a_second_retailer_binding():
    with pytest.raises(KeyError):
        retailer_sql("SELECT 1 FROM {nope} n WHERE {retailer:n}")
    query = RetailerSQL("SELECT 1")
    with pytest.raises(TypeError):
        query.params(1, retailer_id=2)


@pytest.mark.django_db
def test_a_scoped_statement_reads_only_its_retailers_rows(retailer, other_retailer):
    mine = ProductFactory(retailer=retailer, sku="SKU-1")
    ProductFactory(retailer=other_retailer, sku="SKU-1")
    query = retailer_sql(
        "SELECT p.id FROM {product} p WHERE {retailer:p} AND p.sku = %(sku)s", product=Product
    )
    with connection.cursor() as cursor:
        cursor.execute(query.text, query.params(retailer.pk, sku="SKU-1"))
        assert cursor.fetchall() == [(mine.pk,)]
