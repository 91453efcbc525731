"""``load_demo`` moves the demo into the present: on a tiny synthetic stand-in for the Complete
Journey (``read_tables`` patched, promotions skipped), with the clock pinned on several days."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from io import StringIO

import numpy as np
import pandas as pd
import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from campaigns.models import PastOffer
from customers.models import Customer, Transaction
from loyalty_site.site.demo import loader
from loyalty_site.site.demo.completejourney_files import TRANSACTION_COLUMNS, RawTables
from optimizer.selectors import retailer_default_as_of
from optimizer.services.allocation import default_week_start
from retailers.models import CompetitorPrice, InventoryLevel, Retailer, Role
from retailers.weeks import latest_complete_week

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
SOURCE_END = dt.date(2017, 12, 31)  # Sunday, as in the real data


def stand_in() -> RawTables:
    """Three households shopping every week of the data's year (Mon 2016-12-26 .. Sun 2017-12-31,
    17:30 New York), the last basket on Sunday 2017-12-31; one campaign with one redemption."""
    days = pd.date_range("2016-12-26", SOURCE_END, freq="D")
    rows = []
    for n, day in enumerate(days):
        household = n % 3 + 1
        local = pd.Timestamp(f"{day:%Y-%m-%d} 17:30", tz=NEW_YORK)
        rows.append(
            {
                "household_id": household,
                "store_id": 10 + household % 2,
                "basket_id": 1000 + n,
                "product_id": 5 + n % 3,
                "quantity": 1 + n % 2,
                "sales_value": 2.5,
                "retail_disc": 0.5,
                "coupon_disc": 0.0,
                "coupon_match_disc": 0.0,
                "week": (day.date() - dt.date(2016, 12, 26)).days // 7 + 1,
                "transaction_timestamp": local.tz_convert("UTC").tz_localize(None),
            }
        )
    return RawTables(
        transactions=pd.DataFrame(rows, columns=TRANSACTION_COLUMNS),
        demographics=pd.DataFrame(
            {"household_id": [1], "age": ["45-54"], "income": ["50-74K"], "household_size": ["2"]}
        ),
        products=pd.DataFrame(
            {
                "product_id": [5, 6, 7],
                "department": ["GROCERY"] * 3,
                "brand": ["National"] * 3,
                "product_category": ["SOUP", "BREAD", "MILK"],
                "product_type": ["SOUP", "BREAD", "MILK"],
                "package_size": ["1 LB"] * 3,
            }
        ),
        campaigns=pd.DataFrame({"campaign_id": [1, 1], "household_id": [1, 2]}),
        campaign_descriptions=pd.DataFrame(
            {
                "campaign_id": [1],
                "campaign_type": ["Type A"],
                "start_date": pd.to_datetime(["2017-06-05"]),
                "end_date": pd.to_datetime(["2017-07-02"]),
            }
        ),
        coupon_redemptions=pd.DataFrame(
            {
                "household_id": [1],
                "campaign_id": [1],
                "redemption_date": pd.to_datetime(["2017-06-14"]),
            }
        ),
    )


@pytest.fixture
def synthetic_source(monkeypatch):
    monkeypatch.setattr(loader.files, "read_tables", lambda households=None: stand_in())


def load(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", "--skip-promotions", *args, stdout=out)
    return out.getvalue()


def local_dates(retailer: Retailer) -> list[dt.date]:
    stamps = Transaction.objects.filter(retailer=retailer).values_list("timestamp", flat=True)
    return sorted(ts.astimezone(NEW_YORK).date() for ts in stamps)


def dated(model, retailer: Retailer) -> set[dt.date]:
    return set(model.objects.filter(retailer=retailer).values_list("date", flat=True))


# New York times: a Sunday late evening (its own week is not complete), the Monday just after
# local midnight (UTC is already Monday 05:30), a Wednesday, and a Saturday across the new year.
DAYS = [
    dt.datetime(2026, 12, 6, 23, 30, tzinfo=NEW_YORK),
    dt.datetime(2026, 12, 7, 0, 30, tzinfo=NEW_YORK),
    dt.datetime(2026, 12, 9, 12, 0, tzinfo=NEW_YORK),
    dt.datetime(2027, 1, 2, 9, 0, tzinfo=NEW_YORK),
]


@pytest.mark.parametrize("now", DAYS, ids=lambda d: f"{d:%a-%Y-%m-%dT%H:%M}")
def test_load_demo_ends_the_data_in_the_latest_complete_week_before_today(synthetic_source, now):
    with time_machine.travel(now, tick=False):
        output = load()
    today = now.date()
    first, last = latest_complete_week(today)
    retailer = Retailer.objects.get(slug="demo")
    days = local_dates(retailer)
    assert first <= days[-1] <= last
    weeks = retailer.demo_shift_weeks
    assert days[-1] == SOURCE_END + dt.timedelta(weeks=weeks)
    assert days[0] == dt.date(2016, 12, 26) + dt.timedelta(weeks=weeks)
    assert days[0].weekday() == 0  # weekdays kept
    assert retailer.demo_source_end == SOURCE_END
    assert retailer.demo_end == days[-1]
    assert f"Dates moved by {weeks} weeks: the original data ends on 2017-12-31" in output
    # The wall clock is kept: every basket still at 17:30 New York, summer and winter alike.
    stamps = Transaction.objects.filter(retailer=retailer).values_list("timestamp", flat=True)
    assert {ts.astimezone(NEW_YORK).strftime("%H:%M") for ts in stamps} == {"17:30"}

    # Everything dated moved with the baskets.
    offer = PastOffer.objects.get(retailer=retailer, external_id="1-1")
    assert offer.sent_on == dt.date(2017, 6, 5) + dt.timedelta(weeks=weeks)
    assert offer.redeemed_on == dt.date(2017, 6, 14) + dt.timedelta(weeks=weeks)
    enrolled = Customer.objects.filter(retailer=retailer).values_list("enrolled_on", flat=True)
    assert min(enrolled) == days[0]
    stock_days = dated(InventoryLevel, retailer)
    price_days = dated(CompetitorPrice, retailer)
    assert max(stock_days | price_days) <= days[-1]
    assert max(stock_days) > days[-1] - dt.timedelta(weeks=1)

    # So scoring's default as-of and the default campaign week are in the present.
    as_of = retailer_default_as_of(retailer=retailer)
    assert as_of == days[-1] + dt.timedelta(days=1) <= today
    week = default_week_start(as_of)
    assert today - dt.timedelta(days=6) <= week <= today + dt.timedelta(days=6)


def test_load_demo_keep_dates_loads_the_original_calendar(synthetic_source):
    with time_machine.travel(DAYS[0], tick=False):
        output = load("--keep-dates")
    retailer = Retailer.objects.get(slug="demo")
    assert local_dates(retailer)[-1] == SOURCE_END
    assert retailer.demo_shift_weeks == 0
    assert "Dates moved by 0 weeks" in output


def test_dashboard_says_how_far_the_demo_data_was_shifted(synthetic_source, client, make_staff):
    with time_machine.travel(DAYS[0], tick=False):
        load()
        retailer = Retailer.objects.get(slug="demo")
        client.force_login(make_staff(retailer, Role.VIEWER))
        page = client.get(reverse("retailers:dashboard")).content.decode()
    weeks = retailer.demo_shift_weeks
    assert weeks == 465
    assert (
        f"Demo data shifted by {weeks} weeks: the original data ends on 2017-12-31, "
        "the demo's on 2026-11-29" in page
    )


def test_dashboard_of_a_retailer_that_is_not_a_demo_says_nothing_of_shifts(
    client, retailer, staff_user
):
    client.force_login(staff_user)
    page = client.get(reverse("retailers:dashboard")).content.decode()
    assert "Demo data shifted" not in page


def test_stand_in_has_the_real_datas_shape():
    raw = stand_in()
    assert raw.transactions["transaction_timestamp"].dtype.kind == "M"
    assert np.all(raw.transactions["week"].between(1, 53))
