"""The report's charts as Vega-Lite specs, built with altair from the report dict (``processors.analytics.report``).

Each chart carries its own data inline, so the page needs no data server; a chart with nothing to show is left out
(the page then says why in words instead of drawing an empty frame).
"""
from __future__ import annotations

from typing import Any

import altair as alt

from processors.analytics.aggregate import FUNNEL

WIDTH = 520
COUNT_AXIS = alt.Axis(tickMinStep=1, format="d")  # message and click counts are whole numbers


def charts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Chart id → Vega-Lite spec (a JSON-able dict), for each chart the report has data for."""
    built = {"funnel": _funnel(report), "channels": _channels(report), "latency": _latency(report),
             "fallback": _fallback(report), "clicks": _clicks(report), "cost": _cost(report)}
    return {name: chart.to_dict() for name, chart in built.items() if chart is not None}


def _bars(rows: list[dict[str, Any]], title: str) -> alt.Chart:
    return alt.Chart(alt.Data(values=rows), title=title, width=WIDTH).mark_bar()


def _funnel(report: dict[str, Any]) -> alt.Chart | None:
    rows = [{"arm": arm["arm"], "step": step, "messages": arm["steps"][step]} for arm in report["arms"] for step in FUNNEL]
    if not rows:
        return None
    return _bars(rows, "Funnel: messages reaching each step, per arm").encode(
        x=alt.X("step:N", sort=list(FUNNEL), title=None), xOffset="arm:N", y=alt.Y("messages:Q", title="messages", axis=COUNT_AXIS),
        color=alt.Color("arm:N", title="arm"), tooltip=["arm:N", "step:N", "messages:Q"])


def _channels(report: dict[str, Any]) -> alt.Chart | None:
    rows = [{"channel": c["channel"], "rate": name, "value": c[key]}
            for c in report["channels"] for name, key in (("delivery rate", "delivery_rate"), ("read rate", "read_rate"))
            if c[key] is not None]
    if not rows:
        return None
    return _bars(rows, "RCS vs SMS: delivery rate (of sent) and read rate (of delivered)").encode(
        x=alt.X("channel:N", title=None), xOffset="rate:N", y=alt.Y("value:Q", title="rate", axis=alt.Axis(format="%"),
                                                                    scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("rate:N", title=None), tooltip=["channel:N", "rate:N", alt.Tooltip("value:Q", format=".1%")])


def _latency(report: dict[str, Any]) -> alt.Chart | None:
    edges = report["latency"]["edges_s"]
    labels = [f"{_seconds(lo)}–{_seconds(hi)}" for lo, hi in zip(edges, edges[1:])] + [f"≥ {_seconds(edges[-1])}"]
    rows = [{"channel": lat["channel"], "latency": labels[n], "messages": count}
            for lat in report["latency"]["channels"] for n, count in enumerate(lat["histogram"])]
    if not rows:
        return None
    return _bars(rows, "Delivery latency: request → delivered").encode(
        x=alt.X("latency:N", sort=labels, title="seconds"), xOffset="channel:N", y=alt.Y("messages:Q", title="messages", axis=COUNT_AXIS),
        color=alt.Color("channel:N", title="channel"), tooltip=["channel:N", "latency:N", "messages:Q"])


def _fallback(report: dict[str, Any]) -> alt.Chart | None:
    rows = [{"reason": reason, "messages": count} for reason, count in report["fallback"]["reasons"].items()]
    if not rows:
        return None
    return _bars(rows, "Channel fallbacks by reason").encode(
        y=alt.Y("reason:N", sort="-x", title=None), x=alt.X("messages:Q", title="messages", axis=COUNT_AXIS), tooltip=["reason:N", "messages:Q"])


def _clicks(report: dict[str, Any]) -> alt.Chart | None:
    rows = [{"target": c["target"], "kind": c["kind"], "clicks": c["clicks"]} for c in report["clicks"]]
    if not rows:
        return None
    return _bars(rows, "Clicks per link and RCS suggestion").encode(
        y=alt.Y("target:N", sort="-x", title=None), x=alt.X("clicks:Q", title="clicks", axis=COUNT_AXIS), color=alt.Color("kind:N", title=None),
        tooltip=["kind:N", "target:N", "clicks:Q"])


def _cost(report: dict[str, Any]) -> alt.Chart | None:
    rows = [{"arm": arm["arm"], "currency": currency, "cost": micros / 1_000_000}
            for arm in report["arms"] for currency, micros in arm["cost_micros"].items()]
    if not rows:
        return None
    return _bars(rows, "Cost per arm").encode(
        x=alt.X("arm:N", title=None), xOffset="currency:N", y=alt.Y("cost:Q", title="cost"), color=alt.Color("currency:N"),
        tooltip=["arm:N", "currency:N", alt.Tooltip("cost:Q", format=",.2f")])


def _seconds(value: float) -> str:
    return f"{value / 60:g} min" if value >= 60 else f"{value:g} s"
