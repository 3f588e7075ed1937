"""report.html of a failing validation, rendered by headless Chromium: a real picture, the right words."""

from __future__ import annotations

import asyncio
import re
import struct
import subprocess
import zlib
from html import unescape
from pathlib import Path

import pytest

from services.validation.validator import ValidateOptions, validate
from shared.db.connection import connect
from shared.settings import CommonSettings

from .migrated import LegacyExport, MigratedRows

pytestmark = pytest.mark.integration

SCREENSHOT_TIMEOUT_S = 120
DECODED_ROWS = 400  # the verdict banner, totals and the start of the table are in the first rows


def png_colours(data: bytes, rows: int) -> set[bytes]:
    """Distinct pixel values in the first `rows` rows of an 8-bit PNG (a small decoder: no Pillow here)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            assert depth == 8, depth
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    colours: set[bytes] = set()
    offset = 0
    for _ in range(min(rows, height)):
        row_filter, line = raw[offset], bytearray(raw[offset + 1 : offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            if row_filter == 1:
                line[i] = (line[i] + left) & 0xFF
            elif row_filter == 2:
                line[i] = (line[i] + up) & 0xFF
            elif row_filter == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif row_filter == 4:
                corner = previous[i - channels] if i >= channels else 0
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                best = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + best) & 0xFF
        colours.update(bytes(line[x : x + channels]) for x in range(0, stride, channels * 7))
        previous = line
    return colours


async def test_failing_report_renders_in_headless_chromium(
    settings: CommonSettings,
    export: LegacyExport,
    rows: MigratedRows,
    database: str,
    tmp_path: Path,
    chromium: str,
) -> None:
    reading = sorted(rows.readings, key=lambda r: (r.user_id, r.client_id))[0]
    conn = await connect(settings, database)
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "DELETE FROM readings WHERE user_id = %s AND client_id = %s", (reading.user_id, reading.client_id)
            )
    finally:
        conn.close()
    out = tmp_path / "out"
    report = await validate(ValidateOptions(export.directory, out, settings, database=database))
    assert report.verdict == "fail"

    page = out / "report.html"
    html = page.read_text(encoding="utf-8")
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    assert 'id="verdict">FAIL<' in html
    assert "<svg" in html and "<rect" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the page must not load anything"
    for word in ("MISSING_IN_TARGET", "ORPHAN_OWNER", "INVALID_TIMESTAMP", "blood_pressure", "not accepted"):
        assert word in text
    assert rows.legacy_keys[("readings", reading.user_id, reading.client_id)] in text

    screenshot = tmp_path / "report.png"
    profile = tmp_path / "chromium-profile"
    await asyncio.to_thread(
        subprocess.run,
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={screenshot}",
            "--window-size=1200,1600",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=SCREENSHOT_TIMEOUT_S,
    )
    data = screenshot.read_bytes()
    assert len(data) > 1000
    colours = png_colours(data, DECODED_ROWS)
    assert len(colours) > 2, colours
