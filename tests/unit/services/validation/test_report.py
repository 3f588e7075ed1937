"""report.html and report.json from a hand-made report: self-contained, escaped, schema round trip."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.validation.cli import app
from services.validation.html import chart_svg, render_html
from services.validation.report import (
    Report,
    read_verdict,
    write_report,
)
from tests.unit.services.validation.samples import sample_report


def test_html_is_self_contained_and_escaped() -> None:
    html = render_html(sample_report())
    assert 'id="verdict">FAIL<' in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert html.count("<rect") >= 2 + 3  # two bars and the legend


def test_chart_bars_are_proportional() -> None:
    report = sample_report()
    big = report.patterns[0].model_copy(update={"count": 10})
    svg = chart_svg([big, report.patterns[1]])
    assert 'width="560"' in svg and 'width="56"' in svg
    assert "No findings" in chart_svg([])


def test_report_json_round_trip_and_verdict(tmp_path: Path) -> None:
    report = sample_report("pass")
    path = write_report(report, tmp_path)
    document = json.loads(path.read_text())
    assert document["format"] == "vitalsync.validation-report"
    assert document["schema_version"] == 1
    assert document["verdict"] == "pass"
    assert read_verdict(path) == "pass"
    assert Report.model_validate(document) == report


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--out", str(tmp_path)]).exit_code == 2
    assert runner.invoke(app, ["--legacy", str(tmp_path / "none"), "--out", str(tmp_path)]).exit_code == 2
    result = runner.invoke(app, ["--legacy", str(tmp_path), "--out", str(tmp_path / "o"), "--upto-offsets", "x"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["--legacy", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2  # no snapshot.jsonl.gz in the directory
