"""Simulated glucose meter: Glucose Service 0x1808 (GLS v1.0.1) with the Record Access Control Point.

The collector enables notifications on Glucose Measurement 0x2A18 (and Context 0x2A34) and
indications on RACP 0x2A52, then writes a request. The meter notifies each matching record (its
context right after it when flagged) and ends with an indicated response code; counts come back as
a Number of Stored Records response. ATT errors on the RACP write itself: 0xFE "procedure already in
progress" while a procedure runs (except Abort), 0xFD "CCCD improperly configured" when the
needed notifications/indications are off. Request errors are response codes: op code not
supported, invalid operator, invalid operand, operand not supported (user-facing-time filters and
unknown filter types; this meter filters by sequence number, like the Nordic-SDK GLS servers), no
records found.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from bumble import att, gatt
from bumble.device import Connection
from bumble.gatt_server import Server

from shared.ble.errors import BleDecodeError
from shared.ble.glucose import GlucoseFeature, GlucoseFeatures
from shared.ble.racp import (
    RacpFilterType,
    RacpNumberOfRecords,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponse,
    RacpResponseCode,
)
from simulator.devices.base import Session, SimulatedDevice
from simulator.devices.records import Reading, ReadingPlan, StoredRecord, glucose_readings
from simulator.devices.services import (
    CCCD_IMPROPERLY_CONFIGURED,
    PROCEDURE_ALREADY_IN_PROGRESS,
    Properties,
    permissions,
    uuid16,
    with_cccd,
)

logger = logging.getLogger(__name__)

GLUCOSE_SERVICE = 0x1808
GLUCOSE_MEASUREMENT = 0x2A18
GLUCOSE_MEASUREMENT_CONTEXT = 0x2A34
GLUCOSE_FEATURE = 0x2A51
RECORD_ACCESS_CONTROL_POINT = 0x2A52

DEFAULT_FEATURES = GlucoseFeature(
    GlucoseFeatures.LOW_BATTERY_DETECTION
    | GlucoseFeatures.SENSOR_MALFUNCTION_DETECTION
    | GlucoseFeatures.SENSOR_SAMPLE_SIZE
    | GlucoseFeatures.STRIP_INSERTION_ERROR_DETECTION
    | GlucoseFeatures.RESULT_HIGH_LOW_DETECTION
    | GlucoseFeatures.GENERAL_DEVICE_FAULT
)

# Which response code a malformed request gets, by the field shared.ble's RACP decoder names.
_ERROR_BY_FIELD = {
    "op_code": RacpResponseCode.OP_CODE_NOT_SUPPORTED,
    "operator": RacpResponseCode.INVALID_OPERATOR,
    "filter_type": RacpResponseCode.OPERAND_NOT_SUPPORTED,
}


class GlucoseServer(gatt.TemplateService):
    """Glucose Service: Measurement and Context (notify), Feature (read), RACP (write, indicate)."""

    UUID = gatt.GATT_GLUCOSE_SERVICE

    def __init__(self, server: Server, meter: GlucoseMeter, secure: bool) -> None:
        self.measurement = with_cccd(
            gatt.Characteristic(uuid16(GLUCOSE_MEASUREMENT), Properties.NOTIFY, permissions(), b""), server, secure
        )
        self.context = with_cccd(
            gatt.Characteristic(uuid16(GLUCOSE_MEASUREMENT_CONTEXT), Properties.NOTIFY, permissions(), b""),
            server,
            secure,
        )
        self.feature = gatt.Characteristic(
            uuid16(GLUCOSE_FEATURE), Properties.READ, permissions(read=True, secure=secure), bytes(meter.feature)
        )
        self.racp = with_cccd(
            gatt.Characteristic(
                uuid16(RECORD_ACCESS_CONTROL_POINT),
                Properties.WRITE | Properties.INDICATE,
                permissions(write=True, secure=secure),
                gatt.CharacteristicValue(write=meter.on_racp_write),
            ),
            server,
            secure,
        )
        super().__init__([self.measurement, self.context, self.feature, self.racp])


class GlucoseMeter(SimulatedDevice):
    """A finger-stick meter with numbered records served through RACP."""

    KIND: ClassVar[str] = "glucose_meter"
    SERVICE_UUID: ClassVar[int] = GLUCOSE_SERVICE
    MODEL: ClassVar[str] = "VS-GM-7"

    def __init__(self, name: str, *, feature: GlucoseFeature = DEFAULT_FEATURES, **kwargs: Any) -> None:
        self.feature = feature
        self.service: GlucoseServer | None = None
        super().__init__(name, **kwargs)

    @classmethod
    def generate(cls, plan: ReadingPlan) -> list[Reading]:
        return glucose_readings(plan)

    def profile_service(self, server: Server) -> gatt.Service:
        self.service = GlucoseServer(server, self, self.secure)
        return self.service

    def _service(self) -> GlucoseServer:
        if self.service is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.service

    def on_subscription(
        self, session: Session, characteristic: gatt.Characteristic, notify: bool, indicate: bool
    ) -> None:
        service = self._service()
        if (
            self.behaviour.early_notification
            and characteristic is service.measurement
            and notify
            and self.store.records
        ):
            # Quirk: the newest record pushed while the CCCD write is still unanswered.
            self.notify_now(session, characteristic, self.store.records[-1].frame)

    def on_racp_write(self, connection: Connection, value: bytes) -> None:
        """Accept or refuse a RACP write (ATT errors), then run the procedure after the Write Response."""
        session = self.session_for(connection)
        if session is None:
            raise att.ATT_Error(att.ATT_UNLIKELY_ERROR_ERROR)
        service = self._service()
        aborting = value[:1] == bytes((RacpOpCode.ABORT_OPERATION,))
        if session.procedure_running and not aborting:
            raise att.ATT_Error(PROCEDURE_ALREADY_IN_PROGRESS)
        reporting = value[:1] == bytes((RacpOpCode.REPORT_STORED_RECORDS,))
        if not session.indicating(service.racp) or (reporting and not session.notifying(service.measurement)):
            raise att.ATT_Error(CCCD_IMPROPERLY_CONFIGURED)
        if aborting and session.procedure is not None:
            session.procedure.cancel()
        session.procedure = session.spawn(self._run(session, bytes(value)))

    async def _run(self, session: Session, value: bytes) -> None:
        request = parse_request(value)
        if isinstance(request, RacpResponse):
            await self._respond(session, request)
            return
        op_code = request.op_code
        if op_code == RacpOpCode.ABORT_OPERATION:
            await self._respond(session, RacpResponse(op_code, RacpResponseCode.SUCCESS))
            return
        records = self.select(request)
        if op_code == RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS:
            await self._respond(session, RacpNumberOfRecords(len(records)))
        elif not records:
            await self._respond(session, RacpResponse(op_code, RacpResponseCode.NO_RECORDS_FOUND))
        elif op_code == RacpOpCode.DELETE_STORED_RECORDS:
            self.store.delete(records)
            await self._respond(session, RacpResponse(op_code, RacpResponseCode.SUCCESS))
        else:
            for index, record in enumerate(records):
                if index:
                    await self.pause_between_records()
                if await self._send_record(session, record):
                    return
            await self._respond(session, RacpResponse(op_code, RacpResponseCode.SUCCESS))

    async def _send_record(self, session: Session, record: StoredRecord) -> bool:
        service = self._service()
        await self.notify(session, service.measurement, record.frame)
        if record.context_frame is not None and session.notifying(service.context):
            await self.notify(session, service.context, record.context_frame)
        return await self.record_sent(session)

    async def _respond(self, session: Session, response: RacpResponse | RacpNumberOfRecords) -> None:
        await self.indicate(session, self._service().racp, bytes(response))

    def select(self, request: RacpRequest) -> list[StoredRecord]:
        """The stored records a (sequence-number) request designates."""
        operator, operand = request.operator, request.operand
        numbers = [value for value in operand if isinstance(value, int)]
        if operator == RacpOperator.ALL_RECORDS:
            return self.store.select()
        if operator == RacpOperator.LESS_THAN_OR_EQUAL:
            return self.store.select(maximum=numbers[0])
        if operator == RacpOperator.GREATER_THAN_OR_EQUAL:
            return self.store.select(minimum=numbers[0])
        if operator == RacpOperator.WITHIN_RANGE:
            return self.store.select(minimum=numbers[0], maximum=numbers[1])
        records = self.store.select()
        return records[:1] if operator == RacpOperator.FIRST_RECORD else records[-1:]

    def ground_truth_extra(self) -> dict[str, Any]:
        return {"feature": self.feature.to_json()}


def parse_request(value: bytes) -> RacpRequest | RacpResponse:
    """The request, or the response code that refuses it (GLS "Record Access Control Point")."""
    op_code = value[0] if value else 0
    try:
        request = RacpRequest.from_bytes(value)
    except BleDecodeError as error:
        part = error.field.split(".")[1] if "." in error.field else error.field
        code = _ERROR_BY_FIELD.get(part, RacpResponseCode.INVALID_OPERAND)
        logger.debug("RACP request %s refused: %s", value.hex(), error)
        return RacpResponse(op_code, code)
    if request.filter_type == RacpFilterType.USER_FACING_TIME:
        return RacpResponse(op_code, RacpResponseCode.OPERAND_NOT_SUPPORTED)
    return request
