"""The bucket mapping as data: which legacy bucket becomes which processed rows, field by field.

DESIGN section 10: "the bucket mapping is configuration, so another app's layout is a new mapping,
not new code". A mapping is a YAML document (``default_mapping.yaml`` describes the old VitalSync app)
validated into these models when it is loaded, so a typo in a mapping fails at start-up, not halfway
through a migration. Each entry names a (scope type, bucket) and a target:

- ``reading``: a reading of ``reading_type``; ``fields`` maps each protocol value field
  (shared.protocol.readings) to the legacy field it comes from; ``measured_at`` names the epoch-ms field,
  ``device_serial`` the field naming the device. Legacy fields the entry does not name are kept
  verbatim in the reading's values document (``legacy``), so nothing the old app stored is lost.
- ``device``: a ``devices`` row; ``fields`` maps the table's columns to legacy fields.
- ``settings``: a ``device_settings`` row whose document is the whole object without system fields.
- ``ignore``: a known bucket with nothing to migrate (its objects transform to no rows).

A field source is a legacy field name, or ``{legacy, values}`` to translate values (legacy value ->
protocol value; unlisted values pass through) or ``{legacy, flags}`` to turn an integer bit mask into
the list of names the protocol uses (bit -> name).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.legacy.transform.errors import MappingError
from shared.legacy.transform.records import SCOPE_THING, SCOPE_USER
from shared.protocol.readings import (
    BloodPressureValues,
    GlucoseValues,
    TemperatureValues,
    WeightValues,
)

MAPPING_FORMAT = "vitalsync.legacy-mapping.v1"
DEFAULT_MAPPING_FILE = "default_mapping.yaml"
# The protocol's value model per reading type: the fields a reading mapping may fill.
VALUES_MODELS: Mapping[str, type[BaseModel]] = {
    "blood_pressure": BloodPressureValues,
    "weight": WeightValues,
    "body_temperature": TemperatureValues,
    "blood_glucose": GlucoseValues,
}
ScopeType = Literal["APP", "APP_AND_USER", "APP_AND_THING", "APP_AND_GROUP"]
ReadingType = Literal["blood_pressure", "weight", "body_temperature", "blood_glucose"]
# Kii: bucket IDs are [a-zA-Z0-9_-]{2,64}; object field names are free, but `_` keys are the system's.
BucketName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{2,64}$")]
LegacyFieldName = Annotated[str, Field(min_length=1, max_length=250, pattern=r"^[^_]")]


class _Config(BaseModel):
    # unknown keys are refused: a misspelled option would otherwise silently change nothing
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSource(_Config):
    """Where one target field comes from in a legacy body, and how its value is translated."""

    legacy: LegacyFieldName
    values: dict[str, str] = Field(default_factory=dict)
    flags: dict[int, str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"legacy": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> FieldSource:
        if self.values and self.flags is not None:
            raise ValueError("a field translates either values or flags, not both")
        if self.flags is not None and any(bit <= 0 or bit & (bit - 1) for bit in self.flags):
            raise ValueError("flags keys must be single bits (1, 2, 4, ...)")
        return self

    def legacy_value(self, target_value: Any) -> Any:
        """The legacy form of a target value (the first listed legacy value wins where several map to it)."""
        if self.flags is not None and isinstance(target_value, list | tuple):
            mask = 0
            for name in target_value:
                mask |= next((bit for bit, flag in sorted(self.flags.items()) if flag == name), 0)
            return mask
        for legacy, target in self.values.items():
            if target == target_value:
                return legacy
        return target_value


class _Bucket(_Config):
    scope: ScopeType
    bucket: BucketName


class ReadingBucket(_Bucket):
    """A bucket of readings of one type."""

    target: Literal["reading"]
    reading_type: ReadingType
    measured_at: LegacyFieldName
    device_serial: LegacyFieldName | None = None
    fields: dict[str, FieldSource]

    @functools.cached_property
    def consumed_fields(self) -> frozenset[str]:
        """Legacy fields that become protocol values or the time (the rest is kept as legacy extras)."""
        return frozenset(source.legacy for source in self.fields.values()) | {self.measured_at}

    @model_validator(mode="after")
    def _check(self) -> ReadingBucket:
        if self.scope not in (SCOPE_USER, SCOPE_THING):
            raise ValueError("readings belong to a user or a thing: scope must be APP_AND_USER or APP_AND_THING")
        known = set(VALUES_MODELS[self.reading_type].model_fields)
        unknown = sorted(set(self.fields) - known)
        if unknown:
            raise ValueError(f"{self.reading_type} has no value field {', '.join(unknown)}")
        _distinct_sources(self.legacy_fields())
        return self

    def legacy_fields(self) -> list[str]:
        """Every legacy field this entry reads (values, time, device serial)."""
        names = [source.legacy for source in self.fields.values()] + [self.measured_at]
        return names + ([self.device_serial] if self.device_serial else [])


class DeviceFields(_Config):
    """The legacy field of each `devices` column (model, serial, kind and paired_at are required)."""

    model: FieldSource
    serial: FieldSource
    kind: FieldSource
    paired_at: FieldSource
    firmware: FieldSource | None = None
    name: FieldSource | None = None
    ble_address: FieldSource | None = None
    # not a column: the Kii thing the device is, so settings in its thing scope find the device
    thing_id: FieldSource | None = None


class DeviceBucket(_Bucket):
    """The bucket of paired devices."""

    target: Literal["device"]
    fields: DeviceFields

    @model_validator(mode="after")
    def _check(self) -> DeviceBucket:
        if self.scope != SCOPE_USER:
            raise ValueError("devices belong to a user: scope must be APP_AND_USER")
        sources = [getattr(self.fields, name) for name in DeviceFields.model_fields]
        _distinct_sources([source.legacy for source in sources if source is not None])
        return self


class SettingsBucket(_Bucket):
    """A bucket of device settings documents: one per thing, or per device serial in a user scope."""

    target: Literal["settings"]
    device_serial: LegacyFieldName | None = None

    @model_validator(mode="after")
    def _check(self) -> SettingsBucket:
        if self.scope not in (SCOPE_USER, SCOPE_THING):
            raise ValueError("settings belong to a device: scope must be APP_AND_THING or APP_AND_USER")
        if self.scope == SCOPE_USER and self.device_serial is None:
            raise ValueError("user-scope settings need device_serial to find their device")
        return self


class IgnoredBucket(_Bucket):
    """A known bucket with nothing to migrate."""

    target: Literal["ignore"]


BucketEntry = Annotated[ReadingBucket | DeviceBucket | SettingsBucket | IgnoredBucket, Field(discriminator="target")]


def _distinct_sources(names: list[str]) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"legacy field {', '.join(repeated)} is mapped twice")


class BucketMapping(_Config):
    """A whole app's mapping; look entries up by (scope type, bucket) or, for the reverse, by target."""

    format: Literal["vitalsync.legacy-mapping.v1"]
    # The field that carries a client id which is not derived from the object id (rows written by new apps)
    client_id_field: LegacyFieldName = "vitalsyncClientId"
    buckets: list[BucketEntry]

    @model_validator(mode="after")
    def _distinct_buckets(self) -> BucketMapping:
        seen: set[tuple[str, str]] = set()
        for entry in self.buckets:
            key = (entry.scope, entry.bucket)
            if key in seen:
                raise ValueError(f"bucket {entry.bucket} in scope {entry.scope} is mapped twice")
            seen.add(key)
        return self

    @functools.cached_property
    def entries(self) -> dict[tuple[str, str], BucketEntry]:
        """(scope type, bucket) -> entry. A cached property, not a private attribute: pydantic answers a
        private attribute through __getattr__ after a failed descriptor look-up, which cost more than the
        look-up itself, twice per migrated object."""
        return {(entry.scope, entry.bucket): entry for entry in self.buckets}

    def entry(self, scope_type: str, bucket: str) -> BucketEntry | None:
        """The entry of a bucket in a scope type, None when the mapping does not know it."""
        return self.entries.get((scope_type, bucket))

    def reading_bucket(self, reading_type: str) -> ReadingBucket | None:
        """Where readings of a type go back to (the first entry of that type, in file order)."""
        return next((e for e in self.buckets if isinstance(e, ReadingBucket) and e.reading_type == reading_type), None)

    def device_bucket(self) -> DeviceBucket | None:
        """Where devices go back to (the first device entry)."""
        return next((e for e in self.buckets if isinstance(e, DeviceBucket)), None)

    def settings_bucket(self) -> SettingsBucket | None:
        """Where settings go back to (the first settings entry)."""
        return next((e for e in self.buckets if isinstance(e, SettingsBucket)), None)


def parse_mapping(text: str, *, source: str = "<mapping>") -> BucketMapping:
    """A mapping from YAML text; MappingError says what is wrong and where."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise MappingError(f"{source}: not valid YAML: {error}") from error
    try:
        return BucketMapping.model_validate(document)
    except ValidationError as error:
        raise MappingError(f"{source}: {error}") from error


def load_mapping(path: Path | str) -> BucketMapping:
    """A mapping from a YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MappingError(f"{path}: cannot read the mapping: {error}") from error
    return parse_mapping(text, source=str(path))


@functools.cache
def default_mapping() -> BucketMapping:
    """The old VitalSync app's layout (DESIGN section 10), shipped beside this module."""
    text = resources.files(__package__).joinpath(DEFAULT_MAPPING_FILE).read_text(encoding="utf-8")
    return parse_mapping(text, source=DEFAULT_MAPPING_FILE)
