"""Per-item validation of a readings batch: each item is accepted, a duplicate, or rejected with a code."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shared.protocol.readings import PRIMARY_FIELD, Reading
from shared.store.readings import NewReading

# pydantic's own error types, mapped to the protocol's codes; our validators already raise protocol codes
_PYDANTIC_CODES = {
    "missing": "MISSING_FIELD",
    "extra_forbidden": "UNKNOWN_FIELD",
    "union_tag_invalid": "UNKNOWN_TYPE",
    "union_tag_not_found": "MISSING_FIELD",
}


def validate_item(item: Any, device_id: str) -> NewReading | dict[str, Any]:
    """A storable reading, or the error object of a rejected item (never echoing the input)."""
    if not isinstance(item, dict):
        return {"code": "INVALID_READING", "message": "each reading must be a JSON object"}
    try:
        reading = Reading.model_validate({"item": item}).item
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        code = first["type"] if first["type"].isupper() else _PYDANTIC_CODES.get(first["type"], "INVALID_READING")
        field = ".".join(str(p) for p in first["loc"][2:] if not isinstance(p, int)) or None
        return {"code": code, "message": first["msg"], "field": field}
    values = reading.values.canonical_values
    original = reading.values.model_dump(exclude_none=True)
    original_unit = original.get("unit")
    stored = {**values, "original": original} if original_unit and original_unit != values.get("unit") else values
    return NewReading(
        client_id=reading.client_id,
        type=reading.type,
        measured_at=reading.measured_at.replace(tzinfo=None),
        primary_value=values.get(PRIMARY_FIELD[reading.type]),
        original_unit=original_unit,
        values=stored,
        device_id=device_id,
    )
