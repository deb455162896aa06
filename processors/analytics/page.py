"""The report as files: one self-contained HTML page (tables, verdict, Vega-Lite charts with their JavaScript inlined)
and ``summary.json``, the same figures for machines.

The page fetches nothing: vega, vega-lite and vega-embed come from ``vl-convert-python``'s bundle (the one altair
inlines with ``inline=True``), the chart data is in the specs, so it opens offline and from a mail attachment.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from processors.analytics.aggregate import FUNNEL
from processors.analytics.charts import charts

TEMPLATE = Path(__file__).resolve().parent / "data" / "report.html.j2"
HTML_NAME = "report.html"
JSON_NAME = "summary.json"


def write(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``summary.json`` into ``out_dir`` (created if missing); returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out_dir / HTML_NAME, out_dir / JSON_NAME
    html_path.write_text(render(report), encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return html_path, json_path


def render(report: dict[str, Any]) -> str:
    """The HTML page of ``report``; an empty report (no receipts) says so and draws no chart."""
    specs = {} if report["empty"] else {name: _script_json(spec) for name, spec in charts(report).items()}
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string(TEMPLATE.read_text(encoding="utf-8"))
    version, bundle = _bundle() if specs else ("", "")
    return template.render(r=report, charts=specs, bundle=bundle, vegalite_version=version, funnel=FUNNEL,
                           pct=_pct, pts=_pts, rate=_rate, money=_money)


@cache
def _bundle() -> tuple[str, str]:
    """(Vega-Lite version, the vega-embed JavaScript bundle): built once per process, it is about 1 MB."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    version = vl_version_for_vl_convert()
    return version, vl_convert.javascript_bundle(vl_version=version)


def _script_json(spec: dict[str, Any]) -> str:
    # Inside <script>, only "</" can end the element early; JSON allows "<\/" for it.
    return json.dumps(spec).replace("</", "<\\/")


def _pct(part: int, whole: int) -> str:
    return _rate(part / whole if whole else None)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _pts(difference: float) -> str:
    return f"{difference * 100:+.1f} pts"


def _money(micros_by_currency: dict[str, int]) -> str:
    return ", ".join(f"{micros / 1_000_000:,.2f} {currency}" for currency, micros in sorted(micros_by_currency.items())) or "-"
