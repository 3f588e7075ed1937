"""Legacy Kii object -> processed rows (and back), driven by a bucket mapping (DESIGN sections 6, 7, 10).

Shared by the migration worker, the Kii facade's bucket mapping and the validator; pure and
synchronous, never importing the simulator or a service. Typical use::

    mapping = default_mapping()                       # or load_mapping("other_app.yaml")
    result = transform(export_record, mapping, owners)
    if isinstance(result, TransformFailure): ...      # record result.pattern in migration_failures
    else: write(result.rows)                          # DeviceRow / ReadingRow / SettingsRow

`owners` answers legacy ids -> VitalSync ids (`OwnerResolver`); `to_kii_object(row, mapping, names)`
goes the other way for the facade, and `transform_delete` names the row a DELETE record removes.
"""

from __future__ import annotations

from shared.legacy.transform.errors import LegacyTransformError, MappingError, ReverseMappingError
from shared.legacy.transform.mapping import (
    BucketEntry,
    BucketMapping,
    DeviceBucket,
    DeviceFields,
    FieldSource,
    IgnoredBucket,
    ReadingBucket,
    SettingsBucket,
    default_mapping,
    load_mapping,
    parse_mapping,
)
from shared.legacy.transform.records import KII_OBJECT_MAX_CHARS, LegacyRecord, as_legacy_record, legacy_key
from shared.legacy.transform.resolver import InMemoryOwners, KiiNames, OwnerResolver
from shared.legacy.transform.reverse import to_kii_object
from shared.legacy.transform.rows import (
    DeleteResult,
    DeleteTarget,
    DeviceRow,
    FailurePattern,
    Ignored,
    ReadingRow,
    Row,
    SettingsRow,
    Transformed,
    TransformFailure,
    TransformResult,
    TransformWarning,
    reading_row,
    reading_values_document,
)
from shared.legacy.transform.transform import (
    SOURCE_MIGRATION,
    derived_client_id,
    derived_device_id,
    transform,
    transform_delete,
)

__all__ = [
    "KII_OBJECT_MAX_CHARS",
    "SOURCE_MIGRATION",
    "BucketEntry",
    "BucketMapping",
    "DeleteResult",
    "DeleteTarget",
    "DeviceBucket",
    "DeviceFields",
    "DeviceRow",
    "FailurePattern",
    "FieldSource",
    "Ignored",
    "IgnoredBucket",
    "InMemoryOwners",
    "KiiNames",
    "LegacyRecord",
    "LegacyTransformError",
    "MappingError",
    "OwnerResolver",
    "ReadingBucket",
    "ReadingRow",
    "ReverseMappingError",
    "Row",
    "SettingsBucket",
    "SettingsRow",
    "TransformFailure",
    "TransformResult",
    "TransformWarning",
    "Transformed",
    "as_legacy_record",
    "default_mapping",
    "derived_client_id",
    "derived_device_id",
    "legacy_key",
    "load_mapping",
    "parse_mapping",
    "reading_row",
    "reading_values_document",
    "to_kii_object",
    "transform",
    "transform_delete",
]
