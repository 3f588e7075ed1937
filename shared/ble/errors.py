"""The one exception family of ``shared.ble``: every failure names the field, and the byte when known."""

from __future__ import annotations


class BleDecodeError(ValueError):
    """A frame or value that does not fit its characteristic; ``field`` and ``offset`` say where."""

    def __init__(self, field: str, reason: str, offset: int | None = None, detail: str = "") -> None:
        self.field = field
        self.reason = reason
        self.offset = offset
        self.detail = detail
        where = "" if offset is None else f" at byte {offset}"
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{field}: {reason}{where}{extra}")

    @property
    def leaf(self) -> str:
        """Last component of ``field`` (``month`` in ``date_time.month``), used to map it to a byte."""
        return self.field.rpartition(".")[2]


class InvalidValueError(BleDecodeError):
    """A constructor argument outside the range the characteristic allows (no frame, so no offset)."""


class UnknownCharacteristicError(BleDecodeError):
    """A UUID that cannot be parsed, or one that has no codec in the registry."""
