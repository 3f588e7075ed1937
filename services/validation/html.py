"""report.html: one self-contained page (inline CSS and SVG, no scripts, no external assets).

Sections: verdict, totals, legacy versus new per type, a bar chart of findings by pattern (green
accepted, amber over threshold, red not accepted), the patterns with sample keys, field-level
examples, and how the checksums narrowed down. Every value from the data is HTML-escaped.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from services.validation.report import PatternReport, Report

STATUS_COLOURS = {"accepted": "#2e7d32", "over_threshold": "#ef6c00", "not_accepted": "#c62828"}
CHART_WIDTH = 1000
BAR_AREA = 560
LABEL_WIDTH = 300
ROW_HEIGHT = 26

_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; margin: 24px;
       color: #1b1f23; background: #ffffff; }
h1 { margin: 0 0 8px 0; font-size: 26px; } h2 { margin-top: 32px; font-size: 20px; border-bottom: 1px solid #d0d7de; }
.verdict { display: inline-block; padding: 10px 22px; border-radius: 6px; color: #fff; font-size: 28px;
           font-weight: 700; letter-spacing: 2px; }
.pass { background: #2e7d32; } .fail { background: #c62828; }
.meta { color: #57606a; font-size: 13px; margin: 8px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: #f6f8fa; } td.text, th.text { text-align: left; }
td.bad { background: #ffebe9; font-weight: 600; } td.ok { background: #e6ffec; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; min-width: 120px; background: #f6f8fa; }
.card b { display: block; font-size: 20px; }
.status { color: #fff; border-radius: 4px; padding: 1px 6px; font-size: 12px; }
code { font-family: SFMono-Regular, Consolas, monospace; font-size: 12px; word-break: break-all; }
ul.reasons li { color: #c62828; }
"""


def _cell(value: Any, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<td{cls}>{escape(str(value))}</td>"


def _number(value: int, bad_if_positive: bool = False) -> str:
    return _cell(f"{value:,}", "bad" if bad_if_positive and value > 0 else "")


def _status(pattern: PatternReport) -> str:
    colour = STATUS_COLOURS[pattern.status]
    return f'<span class="status" style="background:{colour}">{escape(pattern.status.replace("_", " "))}</span>'


def chart_svg(patterns: list[PatternReport]) -> str:
    """A horizontal bar chart of findings per pattern (bar length proportional to the count)."""
    if not patterns:
        return '<p class="meta">No findings: nothing to chart.</p>'
    ordered = sorted(patterns, key=lambda p: (-p.count, p.pattern))
    peak = max(p.count for p in ordered) or 1
    height = ROW_HEIGHT * len(ordered) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" role="img" '
        f'aria-label="Findings by pattern" font-family="Arial, sans-serif" font-size="13">'
    ]
    for row, pattern in enumerate(ordered):
        y = 10 + row * ROW_HEIGHT
        width = max(2, round(BAR_AREA * pattern.count / peak))
        colour = STATUS_COLOURS[pattern.status]
        label = escape(pattern.pattern)
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end">{label}</text>')
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y + 2}" width="{width}" height="{ROW_HEIGHT - 6}" fill="{colour}">'
            f"<title>{label}: {pattern.count:,} ({escape(pattern.status)})</title></rect>"
        )
        parts.append(f'<text x="{LABEL_WIDTH + width + 6}" y="{y + 16}">{pattern.count:,}</text>')
    axis_y = 10 + len(ordered) * ROW_HEIGHT
    parts.append(f'<line x1="{LABEL_WIDTH}" y1="8" x2="{LABEL_WIDTH}" y2="{axis_y}" stroke="#57606a"/>')
    legend_y = axis_y + 16
    x = LABEL_WIDTH
    for status, colour in STATUS_COLOURS.items():
        parts.append(f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="{legend_y}">{status.replace("_", " ")}</text>')
        x += 150
    parts.append("</svg>")
    return "".join(parts)


def _per_type(report: Report) -> str:
    head = (
        "<tr><th class='text'>bucket</th><th class='text'>table</th><th class='text'>type</th><th>legacy objects</th>"
        "<th>deleted</th><th>failed (legacy)</th><th>expected rows</th><th>rows in new DB</th><th>matched</th>"
        "<th>missing</th><th>extra</th><th>differing</th></tr>"
    )
    body = []
    for row in report.per_type:
        counts_differ = row.expected_rows != row.target_rows
        body.append(
            "<tr>"
            + _cell(row.bucket or "—", "text")
            + _cell(row.table or "(unmapped)", "text")
            + _cell(row.type, "text")
            + _number(row.legacy_objects)
            + _number(row.legacy_deleted)
            + _number(row.legacy_failed)
            + _number(row.expected_rows)
            + _cell(f"{row.target_rows:,}", "bad" if counts_differ else "ok")
            + _number(row.matched)
            + _number(row.missing, True)
            + _number(row.extra, True)
            + _number(row.mismatched, True)
            + "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _patterns(report: Report) -> str:
    if not report.patterns:
        return '<p class="meta">No failed, missing, extra or differing record.</p>'
    head = (
        "<tr><th class='text'>pattern</th><th class='text'>kind</th><th>count</th><th>of legacy objects</th>"
        "<th class='text'>status</th><th class='text'>rule</th><th class='text'>by type</th>"
        "<th class='text'>sample keys</th></tr>"
    )
    body = []
    for pattern in report.patterns:
        by_type = ", ".join(f"{name}: {count:,}" for name, count in pattern.by_type.items())
        samples = "<br>".join(
            f"<code>{escape(s.key)}</code>" + (f" <i>{escape(s.field)}</i>" if s.field else "") for s in pattern.samples
        )
        body.append(
            "<tr>"
            + _cell(pattern.pattern, "text")
            + _cell(pattern.kind.replace("_", " "), "text")
            + _number(pattern.count)
            + _cell(f"{pattern.ratio:.3%}")
            + f"<td class='text'>{_status(pattern)}</td>"
            + _cell(pattern.rule, "text")
            + _cell(by_type, "text")
            + f"<td class='text'>{samples}</td>"
            + "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _examples(report: Report) -> str:
    if not report.examples:
        return '<p class="meta">No field-level difference.</p>'
    head = (
        "<tr><th class='text'>key</th><th class='text'>type</th><th class='text'>pattern</th>"
        "<th class='text'>field</th><th class='text'>expected (legacy, transformed)</th>"
        "<th class='text'>found in new DB</th></tr>"
    )
    body = [
        "<tr>"
        + f"<td class='text'><code>{escape(e.key)}</code></td>"
        + _cell(e.type, "text")
        + _cell(e.pattern, "text")
        + _cell(e.field or "", "text")
        + f"<td class='text'><code>{escape(_shown(e.expected))}</code></td>"
        + f"<td class='text bad'><code>{escape(_shown(e.actual))}</code></td>"
        + "</tr>"
        for e in report.examples
    ]
    return f"<table>{head}{''.join(body)}</table>"


def _cards(report: Report) -> str:
    totals = report.totals
    cards = [
        ("legacy objects", totals.legacy_objects),
        ("expected rows", totals.expected_rows),
        ("rows in new DB", totals.target_rows),
        ("matched rows", totals.matched_rows),
        ("missing", totals.missing_rows),
        ("extra", totals.extra_rows),
        ("differing", totals.mismatched_rows),
        ("legacy failures", totals.legacy_failed),
        ("findings not accepted", totals.unaccepted_findings),
    ]
    return (
        '<div class="cards">'
        + "".join(f'<div class="card">{escape(label)}<b>{value:,}</b></div>' for label, value in cards)
        + "</div>"
    )


def render_html(report: Report) -> str:
    """The whole page."""
    inputs, sums = report.inputs, report.checksums
    reasons = (
        "<ul class='reasons'>" + "".join(f"<li>{escape(r)}</li>" for r in report.verdict_reasons) + "</ul>"
        if report.verdict_reasons
        else "<p>Every pattern found is accepted by the rules: only invalid legacy data failed.</p>"
    )
    meta = (
        f"Generated {escape(report.generated_at)} in {report.duration_s:.1f} s · database "
        f"<code>{escape(inputs.database)}</code> ({escape(inputs.server_version)}) · snapshot taken "
        f"{escape(inputs.snapshot_taken_at)} · {inputs.changes_applied:,} changes applied"
        + (
            f" (topic compared up to offsets {escape(json.dumps(inputs.covered_offsets))})"
            if inputs.covered_offsets
            else ""
        )
        + f" · rules {escape(inputs.rules_file)}"
    )
    checks = (
        f"<p class='meta'>{escape(sums.algorithm)}; JSON encoding <code>{escape(sums.json_encoding)}</code>; "
        f"{sums.segments_compared:,} segments compared, {sums.segments_differing:,} differed; "
        f"{sums.narrowing_queries:,} narrowing and {sums.leaf_queries:,} leaf queries; {sums.rows_fetched:,} row "
        f"checksums and {sums.rows_rechecked:,} whole rows fetched; "
        f"{sums.checksum_only_differences:,} checksum-only differences (equal values).</p>"
    )
    verdict = escape(report.verdict)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Migration validation: {verdict.upper()}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Migration validation report</h1>
<div class="verdict {verdict}" id="verdict">{verdict.upper()}</div>
<p class="meta">{meta}</p>
{reasons}
<h2>Totals</h2>
{_cards(report)}
<h2>Legacy versus new, per type</h2>
{_per_type(report)}
<h2>Findings by pattern</h2>
{chart_svg(report.patterns)}
{_patterns(report)}
<h2>Examples of field differences</h2>
{_examples(report)}
<h2>Checksums</h2>
{checks}
<p class="meta">Every finding is listed in <code>{escape(report.files.get("csv", ""))}</code>;
the machine-readable report is <code>{escape(report.files.get("json", ""))}</code>
(schema {escape(report.format)} v{report.schema_version}).</p>
</body></html>
"""


def write_html(report: Report, path: Path) -> None:
    """Write report.html."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(render_html(report), encoding="utf-8")
    temp.replace(path)
