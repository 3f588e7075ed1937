"""Record Access Control Point 0x2A52 (GLS v1.0.1 "Record Access Control Point";
the same procedure serves CGMS and PLXS): requests and responses.

Every RACP value is ``op code u8 | operator u8 | operand...``. A collector writes a request (op codes 1-4);
the server indicates either a number-of-records response (5) or a response code (6). The same
characteristic carries both directions, so :func:`decode_racp` looks at the op code and returns the
matching class; the simulator decodes requests with it and the gateway decodes responses.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from shared.ble.codes import code_json, coded
from shared.ble.datetime_fields import DateTime
from shared.ble.errors import InvalidValueError
from shared.ble.frame import FrameBytes, FrameReader, FrameWriter

NAME = "racp"
UUID = 0x2A52


class RacpOpCode(enum.IntEnum):
    """RACP op codes (GLS "Record Access Control Point", Op Code table)."""

    REPORT_STORED_RECORDS = 1
    DELETE_STORED_RECORDS = 2
    ABORT_OPERATION = 3
    REPORT_NUMBER_OF_STORED_RECORDS = 4
    NUMBER_OF_STORED_RECORDS_RESPONSE = 5
    RESPONSE_CODE = 6


_REQUEST_OP_CODES = frozenset(
    {
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOpCode.DELETE_STORED_RECORDS,
        RacpOpCode.ABORT_OPERATION,
        RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS,
    }
)


class RacpOperator(enum.IntEnum):
    """RACP operators (GLS, Operator table); "within range" is inclusive at both ends."""

    NULL = 0
    ALL_RECORDS = 1
    LESS_THAN_OR_EQUAL = 2
    GREATER_THAN_OR_EQUAL = 3
    WITHIN_RANGE = 4
    FIRST_RECORD = 5
    LAST_RECORD = 6


# How many filter values follow the filter type for each operator (GLS, Operand table).
_OPERAND_COUNT = {
    RacpOperator.NULL: 0,
    RacpOperator.ALL_RECORDS: 0,
    RacpOperator.LESS_THAN_OR_EQUAL: 1,
    RacpOperator.GREATER_THAN_OR_EQUAL: 1,
    RacpOperator.WITHIN_RANGE: 2,
    RacpOperator.FIRST_RECORD: 0,
    RacpOperator.LAST_RECORD: 0,
}


class RacpFilterType(enum.IntEnum):
    """Filter types of the GLS operand (GLS, Filter Type table): a u16 sequence number or a Date Time."""

    SEQUENCE_NUMBER = 1
    USER_FACING_TIME = 2


class RacpResponseCode(enum.IntEnum):
    """Response code values (GLS, Response Code Values table); other values are reserved and kept as ints."""

    SUCCESS = 1
    OP_CODE_NOT_SUPPORTED = 2
    INVALID_OPERATOR = 3
    OPERATOR_NOT_SUPPORTED = 4
    INVALID_OPERAND = 5
    NO_RECORDS_FOUND = 6
    ABORT_UNSUCCESSFUL = 7
    PROCEDURE_NOT_COMPLETED = 8
    OPERAND_NOT_SUPPORTED = 9


Operand = tuple[int, ...] | tuple[DateTime, ...]


@dataclass(frozen=True, slots=True)
class RacpRequest:
    """A request written by the collector: report, delete, count or abort stored records.

    ``operand`` holds one value for <= and >=, two (minimum, maximum) for "within range", none otherwise;
    sequence numbers are ints, user-facing times are :class:`DateTime`.
    """

    op_code: RacpOpCode
    operator: RacpOperator
    filter_type: RacpFilterType | None = None
    operand: Operand = ()

    NAME: ClassVar[str] = NAME
    UUID: ClassVar[int] = UUID

    def __post_init__(self) -> None:
        if self.op_code not in _REQUEST_OP_CODES:
            raise _invalid("op_code", f"{int(self.op_code)} is not a request op code", "valid: 1-4")
        # GLS "Abort Operation" procedure: Abort uses the Null operator; every other request needs a real one.
        if (self.op_code == RacpOpCode.ABORT_OPERATION) != (self.operator == RacpOperator.NULL):
            reason = f"operator {int(self.operator)} with op code {int(self.op_code)}"
            raise _invalid("operator", reason, "the Null operator goes with Abort and only with Abort")
        count = _OPERAND_COUNT.get(self.operator)
        if count is None:
            raise _invalid("operator", f"unknown operator {int(self.operator)}", "valid: 0-6")
        if count == 0:
            if self.filter_type is not None or self.operand:
                raise _invalid("filter_type", f"operator {int(self.operator)} takes no operand")
            return
        if self.filter_type is None or len(self.operand) != count:
            reason = f"operator {int(self.operator)} needs a filter type and {count} value(s)"
            raise _invalid("operand", reason)
        if self.filter_type == RacpFilterType.SEQUENCE_NUMBER:
            if not all(isinstance(value, int) and 0 <= value <= 0xFFFF for value in self.operand):
                raise _invalid("operand", f"sequence numbers must be 0-65535, got {self.operand}")
            keys: list[Any] = list(self.operand)
        else:
            if not all(isinstance(value, DateTime) for value in self.operand):
                raise _invalid("operand", "user-facing time filters take DateTime values")
            keys = [_time_key(value) for value in self.operand if isinstance(value, DateTime)]
        if count == 2 and keys[0] > keys[1]:
            raise _invalid("operand", "the range minimum is above its maximum", "GLS: Invalid Operand")

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> RacpRequest:
        """Decode a request; an unknown op code, operator or filter type is an error at its byte."""
        reader = FrameReader(data, NAME)
        op_code = _request_op_code(reader)
        operator = _known(reader, RacpOperator, "operator", 1)
        filter_type: RacpFilterType | None = None
        operand: Operand = ()
        count = _OPERAND_COUNT[operator]
        if count:
            filter_type = _known(reader, RacpFilterType, "filter_type", 2)
            names = ("minimum", "maximum") if count == 2 else ("value",)
            if filter_type is RacpFilterType.SEQUENCE_NUMBER:
                operand = tuple(reader.u16(f"operand.{name}") for name in names)
            else:
                operand = tuple(DateTime.read(reader, f"operand.{name}") for name in names)
        reader.finish()
        # Op code, operator and operand sit at fixed bytes 0, 1 and 3 (after the filter type).
        offsets = {"op_code": 0, "operator": 1, "filter_type": 2, "operand": 3}
        return reader.build(cls, (op_code, operator, filter_type, operand), offsets)

    def __bytes__(self) -> bytes:
        writer = FrameWriter()
        writer.u8(self.op_code)
        writer.u8(self.operator)
        if self.filter_type is not None:
            writer.u8(self.filter_type)
        for value in self.operand:
            if isinstance(value, DateTime):
                value.write(writer)
            else:
                writer.u16(value)
        return writer.getvalue()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "op_code": code_json(self.op_code),
            "operator": code_json(self.operator),
            "filter_type": code_json(self.filter_type) if self.filter_type is not None else None,
            "operand": [value.to_json() if isinstance(value, DateTime) else value for value in self.operand],
        }


@dataclass(frozen=True, slots=True)
class RacpNumberOfRecords:
    """Number of Stored Records response (op code 5, Null operator, u16 count as in GLS)."""

    count: int

    NAME: ClassVar[str] = NAME
    UUID: ClassVar[int] = UUID

    def __post_init__(self) -> None:
        if not 0 <= self.count <= 0xFFFF:
            raise _invalid("number_of_records", f"{self.count} is out of range", "valid: 0-65535")

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> RacpNumberOfRecords:
        """Decode op code 5."""
        reader = FrameReader(data, NAME)
        _response_header(reader, RacpOpCode.NUMBER_OF_STORED_RECORDS_RESPONSE)
        count = reader.u16("number_of_records")
        reader.finish()
        return cls(count)

    def __bytes__(self) -> bytes:
        writer = FrameWriter()
        writer.u8(RacpOpCode.NUMBER_OF_STORED_RECORDS_RESPONSE)
        writer.u8(RacpOperator.NULL)
        writer.u16(self.count)
        return writer.getvalue()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "op_code": code_json(RacpOpCode.NUMBER_OF_STORED_RECORDS_RESPONSE),
            "number_of_records": self.count,
        }


@dataclass(frozen=True, slots=True)
class RacpResponse:
    """Response Code (op code 6, Null operator): how the request with ``request_op_code`` ended.

    ``request_op_code`` stays a bare int when the collector sent an op code the server does not know
    (the server then answers ``OP_CODE_NOT_SUPPORTED`` naming it).
    """

    request_op_code: RacpOpCode | int
    response_code: RacpResponseCode | int

    NAME: ClassVar[str] = NAME
    UUID: ClassVar[int] = UUID

    def __post_init__(self) -> None:
        for name, value in (("request_op_code", self.request_op_code), ("response_code", self.response_code)):
            if not 0 <= value <= 0xFF:
                raise _invalid(name, f"{value} is out of range", "valid: 0-255")

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> RacpResponse:
        """Decode op code 6."""
        reader = FrameReader(data, NAME)
        _response_header(reader, RacpOpCode.RESPONSE_CODE)
        request = coded(RacpOpCode, reader.u8("request_op_code"))
        code = coded(RacpResponseCode, reader.u8("response_code"))
        reader.finish()
        return cls(request, code)

    def __bytes__(self) -> bytes:
        return bytes((RacpOpCode.RESPONSE_CODE, RacpOperator.NULL, self.request_op_code, self.response_code))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "op_code": code_json(RacpOpCode.RESPONSE_CODE),
            "request_op_code": code_json(self.request_op_code),
            "response_code": code_json(self.response_code),
        }


RacpValue = RacpRequest | RacpNumberOfRecords | RacpResponse


def decode_racp(data: FrameBytes) -> RacpValue:
    """Decode any RACP value: requests (op codes 1-4) and both kinds of response (5, 6)."""
    if data[:1] == bytes((RacpOpCode.NUMBER_OF_STORED_RECORDS_RESPONSE,)):
        return RacpNumberOfRecords.from_bytes(data)
    if data[:1] == bytes((RacpOpCode.RESPONSE_CODE,)):
        return RacpResponse.from_bytes(data)
    return RacpRequest.from_bytes(data)


def _request_op_code(reader: FrameReader) -> RacpOpCode:
    value = reader.u8("op_code")
    if value not in _REQUEST_OP_CODES:
        raise reader.error("op_code", 0, f"unknown op code {value}", "requests use 1-4, responses 5-6")
    return RacpOpCode(value)


_E = TypeVar("_E", bound=enum.IntEnum)


def _known(reader: FrameReader, kind: type[_E], field: str, offset: int) -> _E:
    """An operator or filter type: an unknown one would change the operand layout, so reject it."""
    value = reader.u8(field)
    member = coded(kind, value)
    if not isinstance(member, kind):
        raise reader.error(field, offset, f"unknown {field.replace('_', ' ')} {value}")
    return member


def _response_header(reader: FrameReader, op_code: RacpOpCode) -> None:
    if reader.u8("op_code") != op_code:
        raise reader.error("op_code", 0, f"expected op code {int(op_code)}")
    operator = reader.u8("operator")
    if operator != RacpOperator.NULL:
        raise reader.error("operator", 1, f"responses use the Null operator, got {operator}")


def _time_key(value: DateTime) -> tuple[int, ...]:
    return (value.year, value.month, value.day, value.hours, value.minutes, value.seconds)


def _invalid(field: str, reason: str, detail: str = "") -> InvalidValueError:
    return InvalidValueError(f"{NAME}.{field}", reason, detail=detail)
