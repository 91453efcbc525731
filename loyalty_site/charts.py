"""Charts of the staff pages: plotly figures built in Python, drawn on the server as bars.

Figures are plain ``plotly.graph_objects.Figure`` s (tests assert on ``fig.to_plotly_json()``).
Pages pass :func:`figure_data` into the context and include ``staff/_chart.html``, which draws
:func:`chart_bars` of it: one labelled row of bars per category, each bar an inline SVG
rectangle, with its value printed beside it.

Why not plotly.js, and why by hand: plotly.js is 4.8 MB of script (2.2 s before the first
dashboard view drew on the demo, 3-4 s cold on this machine) for a handful of bar charts, and
its SVG cannot be read at 390 px. Server-side chart libraries (pygal, matplotlib) emit inline
``<style>`` that the Content-Security-Policy (``style-src`` with a nonce) refuses. The charts
here only need bars with a value and a legend, so this module draws that subset of the figure
(bar traces, either orientation, and scatter traces read as bars; a second y axis gets its own
scale) with no script at all.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

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
PALETTE = (ACCENT, WARN, "#1f7a3f", "#8a94a6")


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


def _bar_value(value: float, *, percent: bool) -> str:
    if percent:
        return f"{100 * value:.0f}%"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _traces(figure: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each trace as ``{name, labels, values, axis, colour}`` (categories along ``labels``)."""
    layout = figure.get("layout") or {}
    traces = []
    for index, trace in enumerate(figure.get("data") or []):
        horizontal = trace.get("orientation") == "h"
        axis = trace.get("yaxis") or "y"
        colour = (trace.get("marker") or {}).get("color") or (trace.get("line") or {}).get("color")
        title = ((layout.get("xaxis" if horizontal else "yaxis") or {}).get("title") or {}).get(
            "text", ""
        )
        traces.append(
            {
                "name": trace.get("name") or title,
                "labels": [str(label) for label in trace.get("y" if horizontal else "x") or []],
                "values": [float(v or 0) for v in trace.get("x" if horizontal else "y") or []],
                "axis": axis,
                "colour": colour if isinstance(colour, str) else PALETTE[index % len(PALETTE)],
                "horizontal": horizontal,
            }
        )
    return traces


def chart_bars(figure: Mapping[str, Any]) -> dict[str, Any]:
    """What ``staff/_chart.html`` draws for a :func:`figure_data` figure.

    Returns ``{"title", "groups": [{"label", "bars": [{"name", "value", "width", "colour"}]}]}``:
    one group per category in the figure's order (a horizontal chart's, whose first category
    plotly draws at the bottom, reversed), ``width`` the bar's share (0-100, as text) of the
    largest value on its y axis, ``value`` the figure as read (a 0-1 axis as a percentage).
    """
    layout = figure.get("layout") or {}
    traces = _traces(figure)
    scale: dict[str, float] = {}
    for trace in traces:
        scale[trace["axis"]] = max([scale.get(trace["axis"], 0.0), *map(abs, trace["values"])])
    percent_axes = {
        axis
        for axis in scale
        if (layout.get("yaxis" + axis[1:]) or {}).get("range") in ([0, 1], (0, 1))
    }
    groups: dict[str, list[dict[str, str]]] = {}
    for trace in traces:
        top = scale[trace["axis"]]
        for label, value in zip(trace["labels"], trace["values"], strict=False):
            groups.setdefault(label, []).append(
                {
                    "name": trace["name"] if len(traces) > 1 else "",
                    "value": _bar_value(value, percent=trace["axis"] in percent_axes),
                    "width": f"{100 * abs(value) / top:.1f}" if top else "0",
                    "colour": trace["colour"],
                }
            )
    order = list(groups)
    if traces and all(trace["horizontal"] for trace in traces):
        order.reverse()
    title = (layout.get("title") or {}).get("text", "")
    return {"title": title, "groups": [{"label": key, "bars": groups[key]} for key in order]}
