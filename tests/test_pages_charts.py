"""Chart figures (built in Python) and the bars the pages draw from them (no chart script)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from loyalty_site.charts import (
    chart_bars,
    figure_data,
    score_history_figure,
    segment_sizes_figure,
)


def test_segment_sizes_figure_is_a_horizontal_bar_chart_largest_on_top():
    fig = segment_sizes_figure(
        [
            {"segment": "champions", "size": 120, "share": 0.6},
            {"segment": "dormant", "size": 20, "share": 0.1},
            {"segment": "at risk", "size": 60, "share": 0.3},
        ]
    ).to_plotly_json()
    (bar,) = fig["data"]
    assert bar["type"] == "bar"
    assert bar["orientation"] == "h"
    assert list(bar["y"]) == ["dormant", "at risk", "champions"]
    assert list(bar["x"]) == [20, 60, 120]
    assert list(bar["customdata"]) == [10.0, 30.0, 60.0]
    assert fig["layout"]["title"]["text"] == "Customers per segment"


def test_score_history_figure_puts_churn_and_clv_on_two_axes():
    history = [
        {"as_of": dt.date(2025, 5, 1), "churn_probability": Decimal("0.2"), "clv": Decimal("100")},
        {
            "as_of": dt.date(2025, 6, 1),
            "churn_probability": Decimal("0.65"),
            "clv": Decimal("80.5"),
        },
    ]
    data = figure_data(score_history_figure(history))
    churn, clv = data["data"]
    assert churn["x"] == clv["x"] == ["2025-05-01", "2025-06-01"]
    assert churn["y"] == [0.2, 0.65]
    assert clv["y"] == [100.0, 80.5]
    assert clv["yaxis"] == "y2"
    assert data["layout"]["yaxis"]["range"] == [0, 1]
    assert data["layout"]["yaxis2"]["overlaying"] == "y"
    json.dumps(data)  # plain JSON types only: safe for json_script


def test_chart_bars_scale_each_axis_and_read_a_horizontal_chart_top_down():
    fig = segment_sizes_figure(
        [{"segment": "champions", "size": 120}, {"segment": "dormant", "size": 30}]
    )
    bars = chart_bars(figure_data(fig))
    assert bars["title"] == "Customers per segment"
    assert [group["label"] for group in bars["groups"]] == ["champions", "dormant"]
    assert [group["bars"][0]["width"] for group in bars["groups"]] == ["100.0", "25.0"]
    assert bars["groups"][0]["bars"][0]["value"] == "120"


def test_chart_bars_of_two_axes_and_a_probability_axis():
    history = [
        {"as_of": dt.date(2025, 5, 1), "churn_probability": Decimal("0.2"), "clv": Decimal("100")},
        {"as_of": dt.date(2025, 6, 1), "churn_probability": Decimal("0.4"), "clv": Decimal("50.5")},
    ]
    bars = chart_bars(figure_data(score_history_figure(history)))
    first, second = bars["groups"]
    assert first["label"] == "2025-05-01"
    assert [(bar["name"], bar["value"], bar["width"]) for bar in second["bars"]] == [
        ("churn probability", "40%", "100.0"),
        ("CLV", "50.50", "50.5"),
    ]


def test_collectstatic_copies_the_stylesheet_and_no_chart_script(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / "staff" / "site.css").exists()
    assert not list(tmp_path.rglob("plotly*.js"))


@pytest.mark.parametrize("profile", [[], [{"segment": "all", "size": 5}]])
def test_segment_sizes_figure_tolerates_small_profiles(profile):
    fig = segment_sizes_figure(profile).to_plotly_json()
    assert len(fig["data"][0]["x"]) == len(profile)


def test_score_history_with_one_run_shows_days_around_it():
    import datetime as dt

    from loyalty_site.charts import score_history_figure

    day = dt.date(2025, 6, 2)
    fig = score_history_figure([{"as_of": day, "churn_probability": 0.3, "clv": 120}])
    axis = fig.to_plotly_json()["layout"]["xaxis"]
    assert axis["tickformat"] == "%Y-%m-%d"
    assert axis["range"] == ["2025-05-30", "2025-06-05"]
