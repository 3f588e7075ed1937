"""Errors of the legacy transform package: bad configuration and impossible reverse mappings.

Bad legacy *data* is never raised: `transform` returns a `TransformFailure` with a pattern code, so
the migration worker can record it and go on. These exceptions are programming or deployment faults.
"""

from __future__ import annotations


class LegacyTransformError(Exception):
    """Base of every error this package raises, so callers can catch the family at once."""


class MappingError(LegacyTransformError, ValueError):
    """A bucket-mapping file that cannot be loaded or does not describe a usable mapping."""


class ReverseMappingError(LegacyTransformError, ValueError):
    """A processed row that the mapping cannot turn back into a Kii object (no bucket, unknown owner)."""
