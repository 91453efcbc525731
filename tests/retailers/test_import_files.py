"""Reading contract CSV files: encodings, empty files, broken rows, row numbering."""

from __future__ import annotations

import pytest

from retailers.csvio import inspect_csv, read_csv
from retailers.exceptions import ImportRejected
from retailers.models import Store
from tests.retailers.test_resources import csv_bytes, run_import


def rejection(data: bytes, reader=read_csv) -> list[str]:
    with pytest.raises(ImportRejected) as info:
        reader([data])
    return [str(error) for error in info.value.errors]


def test_read_csv_accepts_utf8_with_and_without_bom_and_crlf():
    plain = "store_id,name,region\r\nS1,Jyväskylä,Keski-Suomi\r\n".encode()
    for data in (plain, b"\xef\xbb\xbf" + plain):
        dataset = read_csv([data])
        assert dataset.headers == ["store_id", "name", "region"]
        assert dataset.dict == [{"store_id": "S1", "name": "Jyväskylä", "region": "Keski-Suomi"}]


def test_read_csv_reads_quoted_cells_across_chunks():
    data = b'store_id,name,region\nS1,"Centre, ""Main""\nfloor",North\nS2,B,South\n'
    chunks = [data[i : i + 5] for i in range(0, len(data), 5)]
    dataset = read_csv(chunks)
    assert dataset["name"] == ['Centre, "Main"\nfloor', "B"]
    assert dataset.row_numbers == [2, 3]


def test_read_csv_names_the_line_of_a_non_utf8_byte():
    data = "store_id,name\nS1,ok\nS2,Jyväskylä\n".encode("latin-1")
    assert rejection(data) == [
        "row 3: the file is not UTF-8 text (byte 0xE4 on line 3): save it as CSV UTF-8"
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf\n\n", "the file is empty"),
        (b"PK\x03\x04\x14\x00rest-of-a-zip", "spreadsheet workbook, not CSV"),
        ("store_id,name\n".encode("utf-16"), "UTF-16 text, not UTF-8"),
        ("store_id,name\n".encode("cp1252") + b"S1,\x80\n", "not UTF-8 text"),
        (b"a,b\x00,c\n", "not a text file"),
    ],
)
def test_read_csv_rejects_files_that_are_not_contract_csv(data, message):
    errors = rejection(data)
    assert len(errors) == 1
    assert message in errors[0]


def test_read_csv_lists_every_row_of_the_wrong_width_and_duplicate_headers():
    data = csv_bytes("store_id,name,region", "S1,A", "S2,B,North", "S3,C,North,extra", "S4,D,,,")
    assert rejection(data) == [
        "row 2: has 2 cells, the header has 3",
        "row 4: has 4 cells, the header has 3",
    ]
    assert rejection(csv_bytes("sku,name,sku", "1,2,3")) == [
        "row 1, column 'sku': column appears more than once"
    ]


def test_read_csv_skips_blank_rows_but_keeps_spreadsheet_row_numbers():
    dataset = read_csv([csv_bytes("store_id,name,region", "", "S1,A,N", " , , ", "S2,B,N", "")])
    assert dataset.row_numbers == [3, 5]


def test_inspect_csv_counts_data_rows_without_keeping_them():
    info = inspect_csv([csv_bytes("store_id,name", "S1,A", "", "S2,B")])
    assert (info.headers, info.data_rows) == (["store_id", "name"], 2)


@pytest.mark.django_db
def test_import_errors_after_blank_rows_name_the_spreadsheet_row(retailer):
    data = csv_bytes("store_id,name,region", "S1,A,N", "", "", ",B,N")
    with pytest.raises(ImportRejected) as info:
        run_import(retailer, "stores", data)
    assert [(e.row, e.column) for e in info.value.errors] == [(5, "store_id")]
    assert not Store.objects.exists()


@pytest.mark.django_db
def test_header_names_are_trimmed_and_case_insensitive(retailer):
    dataset = read_csv([csv_bytes(" Store_ID ,NAME,Region", "S1,A,N")])
    assert dataset.headers == ["store_id", "name", "region"]
    assert run_import(retailer, "stores", csv_bytes("STORE_ID,Name,region", "S1,A,N"))["new"] == 1
