"""The Record Access Control Point side of a glucose visit: the request, and pairing records with contexts.

Pure helpers for :meth:`services.gateway.session.DeviceSession.collect_racp` (GLS v1.0.1 "Record
Access Control Point"; the Context follows its Measurement with the same sequence number).
"""

from __future__ import annotations

from services.gateway import profiles
from services.gateway.transfer import ReceivedRecord, RecordSink
from shared.ble.errors import BleDecodeError
from shared.ble.glucose import GlucoseMeasurement
from shared.ble.glucose_context import GlucoseMeasurementContext
from shared.ble.racp import (
    RacpFilterType,
    RacpNumberOfRecords,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponse,
    decode_racp,
)

_LAST_SEQUENCE = 0xFFFF


def report_request(from_sequence: int | None) -> RacpRequest:
    """The request "report stored records" with sequence number >= ``from_sequence`` (all when None or 0)."""
    if not from_sequence or from_sequence > _LAST_SEQUENCE:
        return RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.ALL_RECORDS)
    return RacpRequest(
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOperator.GREATER_THAN_OR_EQUAL,
        RacpFilterType.SEQUENCE_NUMBER,
        (from_sequence,),
    )


def racp_response(data: bytes) -> RacpResponse | RacpNumberOfRecords | None:
    try:
        value = decode_racp(data)
    except BleDecodeError:
        return None
    return value if isinstance(value, RacpResponse | RacpNumberOfRecords) else None


class GlucoseAssembler:
    """Pairs each Glucose Measurement with the Context that follows it (same sequence number, GLS §3.2)."""

    def __init__(self, sink: RecordSink) -> None:
        self._sink = sink
        self._pending: tuple[bytes, int | None, bool] | None = None  # frame, sequence, solicited
        self.solicited = 0

    async def add(self, uuid: int, data: bytes, solicited: bool) -> None:
        if uuid == profiles.GLUCOSE_MEASUREMENT_CONTEXT:
            pending = self._pending
            if pending is not None and pending[1] == _context_sequence(data):
                self._pending = None
                await self._emit(ReceivedRecord(pending[0], data, pending[2]))
            return
        await self.flush()
        sequence, context_follows = _measurement_head(data)
        if context_follows:
            self._pending = (data, sequence, solicited)
        else:
            await self._emit(ReceivedRecord(data, None, solicited))

    async def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await self._emit(ReceivedRecord(pending[0], None, pending[2]))

    async def _emit(self, record: ReceivedRecord) -> None:
        if record.solicited:
            self.solicited += 1
        await self._sink(record)


def _measurement_head(frame: bytes) -> tuple[int | None, bool]:
    try:
        measurement = GlucoseMeasurement.from_bytes(frame)
    except BleDecodeError:
        return None, False
    return measurement.sequence_number, measurement.context_follows


def _context_sequence(frame: bytes) -> int | None:
    try:
        return GlucoseMeasurementContext.from_bytes(frame).sequence_number
    except BleDecodeError:
        return None
