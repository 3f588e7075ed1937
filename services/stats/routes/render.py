"""One report body, two representations: JSON (default) or CSV (``Accept: text/csv`` or ``?format=csv``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from services.stats.repo import Table
from shared.auth.middleware import authenticate, require_role
from shared.web.errors import ApiError

OPERATOR_ROLE = "operator"
CSV_TYPE = "text/csv"


async def require_operator(request: web.Request) -> None:
    """401 without a valid token, 403 unless it carries the operator role."""
    require_role(await authenticate(request), OPERATOR_ROLE)


def wants_csv(request: web.Request) -> bool:
    """``?format=csv|json`` wins; otherwise CSV when the Accept header asks for it."""
    chosen = request.query.get("format")
    if chosen is not None:
        if chosen not in ("csv", "json"):
            raise ApiError(400, "INVALID_QUERY", "format must be csv or json", {"field": "format"})
        return chosen == "csv"
    return CSV_TYPE in request.headers.get("Accept", "")


def plain(value: Any) -> Any:
    """A database value as JSON has it: ISO dates, UTC datetimes with Z, integers for decimals."""
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def rows_as_dicts(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    return [{name: plain(value) for name, value in zip(columns, row, strict=True)} for row in rows]


def respond(request: web.Request, report: str, table: Table, meta: dict[str, Any]) -> web.Response:
    """The report as CSV (header row + rows) or as JSON ``{report, ..., columns, rows}``."""
    if wants_csv(request):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow(["" if value is None else plain(value) for value in row])
        return web.Response(
            text=buffer.getvalue(),
            content_type=CSV_TYPE,
            charset="utf-8",
            headers={"Content-Disposition": f'inline; filename="{report}.csv"'},
        )
    body = {"report": report, **meta, "columns": list(table.columns), "rows": rows_as_dicts(table.columns, table.rows)}
    return web.json_response(body)
