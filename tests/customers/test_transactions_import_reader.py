"""The two CSV readers of the bulk loader: pyarrow (fast) and pandas (exact rules) agree, and a
file pyarrow refuses is read again with pandas."""

from __future__ import annotations

import pandas as pd
import pytest

from customers.services import transactions_bulk_import
from customers.services import transactions_csv as csvmodule
from customers.services.transactions_csv import COLUMNS, CsvSource
from retailers.exceptions import ImportRejected
from tests.customers.factories import CustomerFactory
from tests.customers.test_transactions_import import GOOD, HEADER, write
from tests.retailers.factories import ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(retailer):
    StoreFactory(retailer=retailer, external_id="S1")
    for sku in ("A", "B"):
        ProductFactory(retailer=retailer, sku=sku)
    CustomerFactory(retailer=retailer, external_id="C1")
    CustomerFactory(retailer=retailer, external_id="C2")
    return retailer


def read_all(source: CsvSource) -> tuple[list[int], pd.DataFrame]:
    starts, chunks = [], []
    for first_row, chunk in source.chunks():
        starts.append(first_row)
        chunks.append(chunk)
    return starts, pd.concat(chunks, ignore_index=True)


def test_csv_source_reads_like_pandas_with_quotes_bom_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "t.csv"
    text = "\r\n".join(
        [
            " Transaction_ID,customer_id,store_id,timestamp,SKU,quantity,amount,discount",
            ' T1 , C1 ,"S1", 2024-06-01 10:00 ,"A",1,"1,00",0',
            "",
            '"T""2",C1,,2024-06-01T10:00:00,"multi\r\nline",-1,-2.50,-0.10',
            'T3,C2,S1,2024-06-01T10:00:00Z,B,1,"",0',
        ]
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())

    fast = CsvSource(path)
    starts, chunk = read_all(fast)
    assert fast.exact is False  # pyarrow read it
    exact = CsvSource(path)
    exact.exact = True
    assert read_all(exact)[1].equals(chunk)
    assert starts == [2]
    assert list(chunk.columns) == list(COLUMNS)
    assert chunk["transaction_id"].tolist() == ["T1", "", 'T"2', "T3"]
    assert chunk["sku"].tolist() == ["A", "", "multi\r\nline", "B"]
    assert chunk["amount"].tolist() == ["1,00", "", "-2.50", ""]


@pytest.mark.parametrize(
    "odd_line",
    [
        "   ",  # a row of spaces: blank, skipped, but it keeps its row number
        "T9,C1,S1,2024-06-01T10:00:00,A,1",  # fewer fields: the missing cells are empty
    ],
)
def test_transactions_bulk_import_reads_again_with_pandas_what_pyarrow_refuses(
    catalogue,
    tmp_path,
    monkeypatch,
    odd_line,
):
    # Small blocks and chunks: pyarrow has yielded chunks when it meets the odd line.
    monkeypatch.setattr(csvmodule, "_ARROW_BLOCK_BYTES", 256)
    monkeypatch.setattr(csvmodule, "CHUNK_LINES", 5)
    lines = [f"T{i},C1,S1,2024-06-01T10:00:00,A,1,1.00,0" for i in range(30)]
    path = write(tmp_path, *lines, odd_line, "T99,C2,,2024-06-01T10:00:00,B,1,1.00,0")

    if odd_line.strip():
        with pytest.raises(ImportRejected) as rejected:
            transactions_bulk_import(retailer=catalogue, path=path)
        assert [(e.row, e.column) for e in rejected.value.errors] == [
            (32, "amount"),
            (32, "discount"),
        ]
        return
    result = transactions_bulk_import(retailer=catalogue, path=path)
    assert (result.lines_read, result.lines_created, result.transactions_created) == (31, 31, 31)


def test_csv_source_lists_rows_with_too_many_fields_like_pandas(tmp_path):
    path = write(tmp_path, GOOD[0], GOOD[1] + ",extra", GOOD[2])
    source = CsvSource(path)

    with pytest.raises(ImportRejected) as rejected:
        read_all(source)

    assert source.exact is True
    assert [(e.row, e.message) for e in rejected.value.errors] == [
        (3, "has 9 fields, the header has 8")
    ]
    assert HEADER.count(",") == 7
