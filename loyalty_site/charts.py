"""Charts of the staff pages: plotly figures built in Python, drawn by the locally served plotly.js.

Figures are plain ``plotly.graph_objects.Figure`` s, so tests assert on ``fig.to_plotly_json()``.
Pages pass :func:`figure_data` to the ``json_script`` filter and include ``staff/_chart.html``;
``static/staff/charts.js`` draws every ``[data-chart]`` element with ``Plotly.newPlot``.

The JavaScript comes from the installed ``plotly`` package: :class:`PlotlyJsFinder` exposes its
``plotly.min.js`` as the static file :data:`PLOTLY_JS`, so ``collectstatic`` copies (and WhiteNoise
hashes, compresses and serves) it like any other static file; nothing is fetched from a CDN.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import plotly
import plotly.graph_objects as go
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

#: Static path of plotly.js (use ``{% static "vendor/plotly/plotly.min.js" %}``).
PLOTLY_JS = "vendor/plotly/plotly.min.js"
_PREFIX, _NAME = PLOTLY_JS.rsplit("/", 1)
_PACKAGE_DATA = Path(plotly.__file__).resolve().parent / "package_data"

#: Shared look: no plotly logo, small margins, the page's font.
BASE_LAYOUT: dict[str, Any] = {
    "margin": {"l": 48, "r": 16, "t": 36, "b": 40},
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "height": 300,
}
#: Colours of the layout's CSS (static/staff/site.css).
ACCENT = "#2458a6"
WARN = "#b3541e"


class _PrefixedStorage(FileSystemStorage):
    """A storage with the ``prefix`` attribute that collectstatic and WhiteNoise read."""

    prefix: str | None = None


class PlotlyJsFinder(BaseFinder):
    """Static files finder for the one file ``vendor/plotly/plotly.min.js`` of the plotly
    package (``STATICFILES_FINDERS``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = _PrefixedStorage(location=str(_PACKAGE_DATA))
        self.storage.prefix = _PREFIX  # read by collectstatic and WhiteNoise's finder mode

    def check(self, **kwargs: Any) -> list:
        return []

    @overload
    def find(self, path: str, find_all: Literal[False] = False, **kwargs: Any) -> str | None: ...

    @overload
    def find(self, path: str, find_all: Literal[True], **kwargs: Any) -> list[str]: ...

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str] | None:
        if path != PLOTLY_JS:
            return [] if find_all else ""
        found = str(_PACKAGE_DATA / _NAME)
        return [found] if find_all else found

    def list(self, ignore_patterns: Iterable[str] | None) -> Iterable[tuple[str, Any]]:
        yield _NAME, self.storage


def figure_data(fig: go.Figure) -> dict[str, Any]:
    """``{"data": [...], "layout": {...}}`` of ``fig`` as plain JSON types (for ``json_script``)."""
    return json.loads(fig.to_json())


def _figure(title: str, **layout: Any) -> go.Figure:
    return go.Figure(layout={**BASE_LAYOUT, "title": {"text": title, "x": 0}, **layout})


def segment_sizes_figure(profile: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Horizontal bar chart of customers per segment, largest first.

    Args:
        profile: a run's ``segment_profile`` rows (``segment``, ``size``, optional ``share``).
    """
    rows = sorted(profile, key=lambda row: row.get("size", 0))
    fig = _figure("Customers per segment", xaxis={"title": {"text": "customers"}})
    fig.add_bar(
        x=[int(row.get("size", 0)) for row in rows],
        y=[str(row.get("segment", "")) for row in rows],
        orientation="h",
        marker_color=ACCENT,
        customdata=[round(100 * float(row.get("share") or 0), 1) for row in rows],
        hovertemplate="%{y}: %{x} customers (%{customdata}%)<extra></extra>",
    )
    fig.update_layout(height=max(220, 60 + 32 * len(rows)), margin={"l": 140})
    return fig


def _date_axis(history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Whole days on the time axis; one point gets a week around it (plotly would otherwise
    zoom into it and print sub-millisecond ticks)."""
    axis: dict[str, Any] = {"type": "date", "tickformat": "%Y-%m-%d"}
    if len(history) == 1:
        day = history[0]["as_of"]
        axis.update(
            range=[
                (day - dt.timedelta(days=3)).isoformat(),
                (day + dt.timedelta(days=3)).isoformat(),
            ],
            dtick=86_400_000,
        )
    return axis


def score_history_figure(history: Sequence[Mapping[str, Any]]) -> go.Figure:
    """A customer's churn probability (left axis) and CLV (right axis) across scoring runs.

    Args:
        history: ``[{as_of: date, run_id, churn_probability, clv}]`` in time order.
    """
    dates = [row["as_of"].isoformat() for row in history]
    fig = _figure(
        "Churn probability and CLV per scoring run",
        yaxis={"title": {"text": "churn probability"}, "range": [0, 1]},
        yaxis2={
            "title": {"text": "CLV"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        },
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
        xaxis=_date_axis(history),
    )
    fig.add_scatter(
        x=dates,
        y=[float(row["churn_probability"]) for row in history],
        name="churn probability",
        mode="lines+markers",
        line={"color": WARN},
    )
    fig.add_scatter(
        x=dates,
        y=[float(row["clv"]) for row in history],
        name="CLV",
        mode="lines+markers",
        yaxis="y2",
        line={"color": ACCENT},
    )
    return fig


def campaign_breakdown_figure(
    rows: Sequence[Mapping[str, Any]], *, key: str, title: str
) -> go.Figure:
    """Treated customers (bars, left axis) and expected cost and value (markers, right axis) per
    segment or bonus type of a campaign proposal.

    Args:
        rows: a campaign's ``breakdown["by_segment"]`` or ``breakdown["by_bonus_type"]`` rows
            (``allocated``, ``expected_cost``, ``expected_value`` and the ``key`` column).
        key: ``"segment"`` or ``"bonus_type"``.
    """
    labels = [str(row.get(key, "")) for row in rows]
    fig = _figure(
        title,
        yaxis={"title": {"text": "treated customers"}, "rangemode": "tozero"},
        yaxis2={
            "title": {"text": "expected money"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        },
        legend={"orientation": "h", "y": -0.25},
        hovermode="x unified",
    )
    fig.add_bar(
        x=labels,
        y=[int(row.get("allocated") or 0) for row in rows],
        name="treated customers",
        marker_color=ACCENT,
    )
    for column, name, colour in (
        ("expected_cost", "expected cost", WARN),
        ("expected_value", "expected value", "#1f7a3f"),
    ):
        fig.add_scatter(
            x=labels,
            y=[round(float(row.get(column) or 0), 2) for row in rows],
            name=name,
            mode="markers",
            marker={"color": colour, "size": 11, "symbol": "diamond"},
            yaxis="y2",
        )
    return fig


def campaign_results_figure(results: Mapping[str, Any]) -> go.Figure:
    """Mean spend and gross margin per customer, treated vs control, from a campaign's
    ``results`` (``spend`` and ``margin`` with ``treated_mean`` and ``control_mean``)."""
    measures = [("spend", "spend"), ("margin", "gross margin")]
    fig = _figure(
        "Per customer in the window: treated vs control",
        yaxis={"title": {"text": "mean per customer"}, "rangemode": "tozero"},
        barmode="group",
        legend={"orientation": "h", "y": -0.2},
    )
    for group, colour in (("treated", ACCENT), ("control", "#8a94a6")):
        fig.add_bar(
            x=[label for _, label in measures],
            y=[float((results.get(key) or {}).get(f"{group}_mean") or 0) for key, _ in measures],
            name=group,
            marker_color=colour,
        )
    return fig


def campaign_budget_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Budget, expected cost and real spend of recent campaigns (grouped bars, oldest first).

    Args:
        rows: ``[{label, budget, expected_cost, spent}]`` (see
            ``campaigns.selectors.campaign_budget_rows``).
    """
    fig = _figure(
        "Budget, expected cost and spend per campaign",
        yaxis={"title": {"text": "money"}, "rangemode": "tozero"},
        barmode="group",
        legend={"orientation": "h", "y": -0.3},
    )
    labels = [str(row["label"]) for row in rows]
    for column, name, colour in (
        ("budget", "budget", "#8a94a6"),
        ("expected_cost", "expected cost", ACCENT),
        ("spent", "spent", WARN),
    ):
        fig.add_bar(
            x=labels,
            y=[float(row.get(column) or 0) for row in rows],
            name=name,
            marker_color=colour,
        )
    return fig
